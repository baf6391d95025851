//! Opaque, authenticated pagination cursors ([invariant 6](crate#invariants)).
//!
//! A cursor carries DynamoDB's `LastEvaluatedKey` together with what it was issued for: the
//! tenant, the model, the index and a digest of the key condition. The whole is signed with
//! HMAC-SHA256 (truncated to 128 bits) under the [`CursorKey`] of the [`Db`](crate::Db), and
//! encoded as URL-safe base64. A cursor that was edited, signed under another key, or replayed
//! for another tenant, model, index or key condition is [`Error::InvalidCursor`], and the query
//! sends nothing.
//!
//! Filters, limits and projections are not bound: a client may change them between pages.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Item};
use crate::key::KeyScope;

/// Format version, the first byte of every cursor.
const VERSION: u8 = 1;
/// Bytes of the HMAC tag kept at the end of a cursor.
const TAG_LEN: usize = 16;
/// Bytes of the key-condition digest.
const DIGEST_LEN: usize = 16;
/// The development key used when none is configured.
const DEVELOPMENT_KEY: &[u8] = b"dynabao development cursor key: set a real one in production";

/// The secret cursors are signed with.
///
/// Set a random key of at least 32 bytes in production ([`Db::with_cursor_key`](crate::Db::with_cursor_key),
/// or `DYNABAO_CURSOR_KEY` for [`Config::from_env`](crate::Config::from_env)), and share it
/// between every instance that serves the same clients. Without one, a fixed development key is
/// used: cursors still cannot cross tenants (the tenant is inside what is signed), but anyone who
/// reads this source can forge a cursor for their own tenant's partitions.
#[derive(Clone)]
pub struct CursorKey(std::sync::Arc<[u8]>);

impl CursorKey {
    /// A key from secret bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        CursorKey(std::sync::Arc::from(secret.as_ref()))
    }

    /// The fixed development key.
    pub fn development() -> Self {
        CursorKey::new(DEVELOPMENT_KEY)
    }

    /// Whether this is the fixed development key.
    pub fn is_development(&self) -> bool {
        &*self.0 == DEVELOPMENT_KEY
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail, but an error is still handled.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => Hmac::<Sha256>::new(&Default::default()),
        }
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_development() {
            "CursorKey(development)"
        } else {
            "CursorKey(..)"
        })
    }
}

impl Default for CursorKey {
    fn default() -> Self {
        CursorKey::development()
    }
}

/// What a cursor is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding<'a> {
    pub scope: &'a KeyScope,
    pub model_prefix: &'a str,
    /// The physical index, `""` for the table.
    pub index: &'a str,
    /// A digest of the key condition (see [`condition_digest`]).
    pub condition: [u8; DIGEST_LEN],
}

/// A digest of a key condition's parts (attribute names, operator, stored values).
pub(crate) fn condition_digest(parts: &[&str]) -> [u8; DIGEST_LEN] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p.as_bytes());
    }
    let full = h.finalize();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

fn put_str(buf: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let len = u16::try_from(s.len()).map_err(|_| invalid("key too long for a cursor"))?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidCursor { reason }
}

/// Encodes and signs a `LastEvaluatedKey` for `binding`.
pub(crate) fn encode(
    key: &CursorKey,
    binding: &Binding<'_>,
    last_key: &Item,
) -> Result<String, Error> {
    let mut buf = Vec::with_capacity(256);
    buf.push(VERSION);
    put_str(
        &mut buf,
        binding.scope.tenant().map(|t| t.as_str()).unwrap_or(""),
    )?;
    put_str(&mut buf, binding.model_prefix)?;
    put_str(&mut buf, binding.index)?;
    buf.extend_from_slice(&binding.condition);
    let mut entries: Vec<(&String, &AttributeValue)> = last_key.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    buf.push(u8::try_from(entries.len()).map_err(|_| invalid("too many key attributes"))?);
    for (name, value) in entries {
        let AttributeValue::S(v) = value else {
            return Err(invalid("a key attribute is not a string"));
        };
        put_str(&mut buf, name)?;
        put_str(&mut buf, v)?;
    }
    let tag = key.mac().chain_update(&buf).finalize().into_bytes();
    buf.extend_from_slice(&tag[..TAG_LEN]);
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(invalid("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn str(&mut self) -> Result<&'a str, Error> {
        let len = self.take(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| invalid("not UTF-8"))
    }
}

/// Verifies a cursor against `binding` and returns the `ExclusiveStartKey` it carries.
pub(crate) fn decode(key: &CursorKey, binding: &Binding<'_>, cursor: &str) -> Result<Item, Error> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid("not a cursor"))?;
    if raw.len() < 1 + TAG_LEN {
        return Err(invalid("not a cursor"));
    }
    let (body, tag) = raw.split_at(raw.len() - TAG_LEN);
    key.mac()
        .chain_update(body)
        .verify_truncated_left(tag)
        .map_err(|_| invalid("signature does not match"))?;

    let mut r = Reader { buf: body };
    if r.byte()? != VERSION {
        return Err(invalid("unknown cursor version"));
    }
    let tenant = r.str()?;
    let model = r.str()?;
    let index = r.str()?;
    let condition = r.take(DIGEST_LEN)?;
    if tenant != binding.scope.tenant().map(|t| t.as_str()).unwrap_or("") {
        return Err(invalid("issued for another tenant"));
    }
    if model != binding.model_prefix {
        return Err(invalid("issued for another model"));
    }
    if index != binding.index {
        return Err(invalid("issued for another index"));
    }
    if condition != binding.condition {
        return Err(invalid("issued for another key condition"));
    }
    let count = r.byte()?;
    let mut item = HashMap::with_capacity(count as usize);
    let prefix = binding.scope.model_prefix(binding.model_prefix);
    for _ in 0..count {
        let name = r.str()?;
        let value = r.str()?;
        // Defence in depth: every key in a cursor is this tenant's and model's.
        if !value.starts_with(&prefix) {
            return Err(invalid("key outside the tenant"));
        }
        item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
    }
    if !r.buf.is_empty() {
        return Err(invalid("trailing bytes"));
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantId;

    fn scope(t: &str) -> KeyScope {
        KeyScope::Tenant(TenantId::new(t).unwrap())
    }

    fn last_key(t: &str) -> Item {
        Item::from([
            ("_pk".to_owned(), AttributeValue::S(format!("[{t}]#u#1"))),
            ("_sk".to_owned(), AttributeValue::S(format!("[{t}]#u#_"))),
        ])
    }

    fn binding<'a>(scope: &'a KeyScope, index: &'a str) -> Binding<'a> {
        Binding {
            scope,
            model_prefix: "u",
            index,
            condition: condition_digest(&["_pk", "=", "x"]),
        }
    }

    #[test]
    fn round_trips() {
        let key = CursorKey::new(b"0123456789abcdef0123456789abcdef");
        let a = scope("acme");
        let c = encode(&key, &binding(&a, ""), &last_key("acme")).unwrap();
        assert!(c
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(
            decode(&key, &binding(&a, ""), &c).unwrap(),
            last_key("acme")
        );
    }

    fn reason(e: Error) -> &'static str {
        match e {
            Error::InvalidCursor { reason } => reason,
            other => panic!("expected InvalidCursor, got {other:?}"),
        }
    }

    #[test]
    fn rejects_other_tenant_model_index_condition_and_key() {
        let key = CursorKey::development();
        let a = scope("acme");
        let b = scope("acme-corp");
        let c = encode(&key, &binding(&a, "gsi1"), &last_key("acme")).unwrap();
        assert_eq!(
            reason(decode(&key, &binding(&b, "gsi1"), &c).unwrap_err()),
            "issued for another tenant"
        );
        assert_eq!(
            reason(decode(&key, &binding(&a, "gsi2"), &c).unwrap_err()),
            "issued for another index"
        );
        let mut other_model = binding(&a, "gsi1");
        other_model.model_prefix = "post";
        assert_eq!(
            reason(decode(&key, &other_model, &c).unwrap_err()),
            "issued for another model"
        );
        let mut other_cond = binding(&a, "gsi1");
        other_cond.condition = condition_digest(&["_pk", "=", "y"]);
        assert_eq!(
            reason(decode(&key, &other_cond, &c).unwrap_err()),
            "issued for another key condition"
        );
        let other_key = CursorKey::new(b"another key");
        assert_eq!(
            reason(decode(&other_key, &binding(&a, "gsi1"), &c).unwrap_err()),
            "signature does not match"
        );
    }

    #[test]
    fn rejects_edits_and_garbage() {
        let key = CursorKey::development();
        let a = scope("acme");
        let c = encode(&key, &binding(&a, ""), &last_key("acme")).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let edited = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(
                matches!(
                    decode(&key, &binding(&a, ""), &edited),
                    Err(Error::InvalidCursor { .. })
                ),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        for junk in ["", "!!!", "abc", &c[..c.len() - 2]] {
            assert!(
                matches!(
                    decode(&key, &binding(&a, ""), junk),
                    Err(Error::InvalidCursor { .. })
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_signed_cursor_with_a_foreign_key_inside_is_rejected() {
        // Even a correctly signed cursor (a leaked key) cannot point into another tenant.
        let key = CursorKey::development();
        let a = scope("acme");
        let c = encode(&key, &binding(&a, ""), &last_key("globex")).unwrap();
        assert_eq!(
            reason(decode(&key, &binding(&a, ""), &c).unwrap_err()),
            "key outside the tenant"
        );
    }
}
