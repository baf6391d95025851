//! Opaque, authenticated pagination cursors ([invariant 6](crate#invariants)).
//!
//! A cursor carries DynamoDB's `LastEvaluatedKey` together with what it was issued for: the
//! tenant, the model, the index and a digest of the key condition, plus the time it was issued.
//! All of it is encrypted and authenticated with XChaCha20-Poly1305 under the [`CursorKey`] of
//! the [`Db`](crate::Db) (a fresh random 192-bit nonce per cursor), and encoded as URL-safe
//! base64. A client holding a cursor learns nothing from it: not the tenant id, not the stored
//! keys (which may hold an email or any other key value); its length only tells a size class,
//! since the plaintext is padded to a multiple of 32 bytes.
//!
//! A cursor that was edited, issued under a key the `Db` does not hold, issued longer ago than
//! the key's [lifetime](CursorKey::with_lifetime), or replayed for another tenant, model, index
//! or key condition is [`Error::InvalidCursor`], and the query sends nothing.
//!
//! Keys rotate: every cursor names the key it was issued under by a 4-byte key id (derived from
//! the secret, so nothing to configure), new cursors are always issued under the current key,
//! and keys added with [`CursorKey::with_previous`] are still accepted for decoding until they
//! are dropped.
//!
//! Filters, limits and projections are not bound: a client may change them between pages.
//! Cursors of the format before encryption (version 1, signed only) are refused.
//!
//! The key a cursor resumes from is always the tenant's own: it is either an item of the
//! queried model or an item of another model of the same tenant that shares the partition and
//! that the query skipped. Either way it must carry the tenant's prefix, checked on decode in
//! addition to the authentication.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Item};
use crate::key::KeyScope;

/// Format version, the first byte of every cursor. Version 1 was signed, not encrypted.
const VERSION: u8 = 2;
/// Bytes of the key id that follows the version.
const KEY_ID_LEN: usize = 4;
/// Bytes of the XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag at the end of the ciphertext.
const TAG_LEN: usize = 16;
/// The header: version and key id, authenticated as associated data.
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// The plaintext is padded with zeros to a multiple of this, so a cursor's length tells little.
const PAD_TO: usize = 32;
/// Bytes of the key-condition digest.
const DIGEST_LEN: usize = 16;
/// The shortest secret [`CursorKey::new`] accepts.
pub const MIN_SECRET_LEN: usize = 32;
/// The development key used when none is configured.
const DEVELOPMENT_KEY: &[u8] = b"dynabao development cursor key: set a real one in production";

/// The secret cursors are encrypted with, the previous secrets still accepted, and the cursors'
/// lifetime.
///
/// Set a random key of at least [`MIN_SECRET_LEN`] bytes in production
/// ([`Db::with_cursor_key`](crate::Db::with_cursor_key), or `DYNABAO_CURSOR_KEY` for
/// [`Config::from_env`](crate::Config::from_env)), and share it between every instance that
/// serves the same clients. Without one, a fixed development key is used: cursors still cannot
/// cross tenants (the tenant is inside what is authenticated, and the keys inside are checked),
/// but anyone who reads this source can read cursors and forge one for their own tenant's
/// partitions. A handle that issues or reads a cursor under the development key logs a warning
/// the first time it does, whichever constructor made it (`Db::connect` warns at once).
///
/// To rotate, make the new secret current and keep the old one for as long as its cursors
/// should work:
///
/// ```
/// use std::time::Duration;
/// use dynabao::CursorKey;
///
/// let key = CursorKey::new("a new random secret of at least 32 bytes")?
///     .with_previous("the old random secret, at least 32 bytes too")?
///     .with_lifetime(Duration::from_secs(24 * 3600));
/// assert!(CursorKey::new("short").is_err());
/// # let _ = key;
/// # Ok::<(), dynabao::Error>(())
/// ```
#[derive(Clone)]
pub struct CursorKey(Arc<Ring>);

/// What a [`CursorKey`] holds.
struct Ring {
    current: Secret,
    previous: Vec<Secret>,
    lifetime: Option<Duration>,
    /// Whether the development-key warning was logged for this key.
    warned: AtomicBool,
}

/// One secret, as derived keys.
#[derive(Clone)]
struct Secret {
    /// Names the secret in the cursors issued under it.
    id: [u8; KEY_ID_LEN],
    /// The XChaCha20-Poly1305 key.
    cipher_key: [u8; 32],
    development: bool,
}

impl Secret {
    fn derive(secret: &[u8]) -> Secret {
        let prf = |label: &[u8]| -> [u8; 32] {
            // HMAC takes keys of any length, so this cannot fail; a failure still yields a
            // (useless, never matching) zero key rather than a panic.
            match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
                Ok(mac) => mac.chain_update(label).finalize().into_bytes().into(),
                Err(_) => [0; 32],
            }
        };
        let id_bytes = prf(b"dynabao cursor key id v2");
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&id_bytes[..KEY_ID_LEN]);
        Secret {
            id,
            cipher_key: prf(b"dynabao cursor encryption key v2"),
            development: secret == DEVELOPMENT_KEY,
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.cipher_key.into())
    }
}

/// A secret shorter than [`MIN_SECRET_LEN`].
fn short_secret(len: usize) -> Error {
    Error::Config(format!(
        "a cursor key secret must be at least {MIN_SECRET_LEN} bytes, this one has {len}"
    ))
}

impl CursorKey {
    /// A key from secret bytes: at least [`MIN_SECRET_LEN`] of them (a random value, not a
    /// password), else [`Error::Config`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(short_secret(secret.len()));
        }
        Ok(CursorKey::from_secret(secret))
    }

    fn from_secret(secret: &[u8]) -> Self {
        CursorKey(Arc::new(Ring {
            current: Secret::derive(secret),
            previous: Vec::new(),
            lifetime: None,
            warned: AtomicBool::new(false),
        }))
    }

    /// The fixed development key.
    pub fn development() -> Self {
        CursorKey::from_secret(DEVELOPMENT_KEY)
    }

    /// Whether cursors are issued under the fixed development key.
    pub fn is_development(&self) -> bool {
        self.0.current.development
    }

    /// Also accepts cursors issued under `secret` (a key being rotated out); new cursors are
    /// still issued under the current key. Same length rule as [`new`](CursorKey::new).
    pub fn with_previous(self, secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(short_secret(secret.len()));
        }
        let mut ring = self.ring();
        ring.previous.push(Secret::derive(secret));
        Ok(CursorKey(Arc::new(ring)))
    }

    /// Cursors older than `lifetime` are [`Error::InvalidCursor`] (reason `"expired"`). The
    /// lifetime is checked when a cursor is read, so shortening it applies to cursors already
    /// issued. Without one, cursors do not expire.
    pub fn with_lifetime(self, lifetime: Duration) -> Self {
        let mut ring = self.ring();
        ring.lifetime = Some(lifetime);
        CursorKey(Arc::new(ring))
    }

    /// The lifetime of cursors, if they have one.
    pub fn lifetime(&self) -> Option<Duration> {
        self.0.lifetime
    }

    /// A copy of the ring, to derive a changed key from.
    fn ring(&self) -> Ring {
        Ring {
            current: self.0.current.clone(),
            previous: self.0.previous.clone(),
            lifetime: self.0.lifetime,
            warned: AtomicBool::new(self.0.warned.load(Ordering::Relaxed)),
        }
    }

    /// The secret named `id`: the current one or a previous one.
    fn secret(&self, id: &[u8]) -> Option<&Secret> {
        std::iter::once(&self.0.current)
            .chain(&self.0.previous)
            .find(|s| s.id == id)
    }

    /// Logs, once per key (and its clones), that the development key is in use; whether it
    /// logged now.
    pub(crate) fn warn_if_development(&self) -> bool {
        let warn = self.is_development() && !self.0.warned.swap(true, Ordering::Relaxed);
        if warn {
            tracing::warn!(
                "dynabao: pagination cursors use the public development key; set a cursor key \
                 (Db::with_cursor_key or DYNABAO_CURSOR_KEY) in production"
            );
        }
        warn
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_development() {
            return f.write_str("CursorKey(development)");
        }
        f.write_str("CursorKey(..)")
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

/// Seconds since the Unix epoch now (0 for a clock before 1970, which never expires anything
/// wrongly: such a clock makes every cursor look fresh).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Encrypts a `LastEvaluatedKey` for `binding`.
pub(crate) fn encode(
    key: &CursorKey,
    binding: &Binding<'_>,
    last_key: &Item,
) -> Result<String, Error> {
    encode_at(key, binding, last_key, now_secs())
}

/// [`encode`] with the issue time given (seconds since the epoch).
fn encode_at(
    key: &CursorKey,
    binding: &Binding<'_>,
    last_key: &Item,
    issued_at: u64,
) -> Result<String, Error> {
    key.warn_if_development();
    let mut plain = Vec::with_capacity(256);
    plain.extend_from_slice(&issued_at.to_be_bytes());
    put_str(
        &mut plain,
        binding.scope.tenant().map(|t| t.as_str()).unwrap_or(""),
    )?;
    put_str(&mut plain, binding.model_prefix)?;
    put_str(&mut plain, binding.index)?;
    plain.extend_from_slice(&binding.condition);
    let mut entries: Vec<(&String, &AttributeValue)> = last_key.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    plain.push(u8::try_from(entries.len()).map_err(|_| invalid("too many key attributes"))?);
    for (name, value) in entries {
        let AttributeValue::S(v) = value else {
            return Err(invalid("a key attribute is not a string"));
        };
        put_str(&mut plain, name)?;
        put_str(&mut plain, v)?;
    }
    plain.resize(plain.len().div_ceil(PAD_TO) * PAD_TO, 0);

    let secret = &key.0.current;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plain.len() + TAG_LEN);
    out.push(VERSION);
    out.extend_from_slice(&secret.id);
    let nonce = XNonce::try_generate().map_err(|e| {
        Error::Config(format!(
            "cursor: the operating system's random source failed: {e}"
        ))
    })?;
    let sealed = secret
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: &plain,
                aad: &out[..HEADER_LEN],
            },
        )
        .map_err(|_| invalid("cannot encrypt the cursor"))?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
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

    fn u64(&mut self) -> Result<u64, Error> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn str(&mut self) -> Result<&'a str, Error> {
        let len = self.take(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| invalid("not UTF-8"))
    }
}

/// Authenticates and decrypts a cursor, checks it against `binding`, and returns the
/// `ExclusiveStartKey` it carries.
pub(crate) fn decode(key: &CursorKey, binding: &Binding<'_>, cursor: &str) -> Result<Item, Error> {
    decode_at(key, binding, cursor, now_secs())
}

/// [`decode`] at a given time (seconds since the epoch).
fn decode_at(
    key: &CursorKey,
    binding: &Binding<'_>,
    cursor: &str,
    now: u64,
) -> Result<Item, Error> {
    key.warn_if_development();
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid("not a cursor"))?;
    if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(invalid("not a cursor"));
    }
    if raw[0] != VERSION {
        return Err(invalid("unknown cursor version"));
    }
    let (header, rest) = raw.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let secret = key
        .secret(&header[1..])
        // A key id this handle does not hold fails like a wrong tag: no key it holds signed it.
        .ok_or_else(|| invalid("signature does not match"))?;
    let nonce = XNonce::try_from(nonce).map_err(|_| invalid("not a cursor"))?;
    let plain = secret
        .cipher()
        .decrypt(
            &nonce,
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map_err(|_| invalid("signature does not match"))?;

    let mut r = Reader { buf: &plain };
    let issued_at = r.u64()?;
    if let Some(lifetime) = key.0.lifetime {
        if now.saturating_sub(issued_at) > lifetime.as_secs() {
            return Err(invalid("expired"));
        }
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
    // The item a page ends on may be another model of the same tenant that the query skipped
    // (it shares the partition), so the check is the tenant's prefix, not the model's.
    let prefix = binding.scope.tenant_prefix();
    for _ in 0..count {
        let name = r.str()?;
        let value = r.str()?;
        // Defence in depth: every key in a cursor is this tenant's.
        if !value.starts_with(&prefix) {
            return Err(invalid("key outside the tenant"));
        }
        item.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
    }
    if r.buf.iter().any(|&b| b != 0) {
        return Err(invalid("trailing bytes"));
    }
    Ok(item)
}

#[cfg(test)]
mod tests;
