//! The stored key layout: the one place that turns (tenant, model prefix, encoded values) into
//! `_pk`/`_sk`/`_gsiN_*` strings, and parses them back.
//!
//! | scope | stored key |
//! |---|---|
//! | tenant `t` | `[t]#prefix#v1#v2` |
//! | global (tenancy off, or a `#[bao(global)]` model) | `prefix#v1#v2` |
//!
//! Tenant ids are validated (`[A-Za-z0-9._-]`), model prefixes are checked at compile time (no
//! `#`, `[`, `]`), and values are escaped so they never contain `#`. Reading a key left to right
//! is therefore unambiguous, which makes the layout injective, and the closing `]` means no
//! tenant's keys are a prefix of another's (`[acme]#` vs `[acme-corp]#`).

use super::encode::{InvalidKeyPart, KeyPart, KeyWriter, SEPARATOR};
use crate::tenant::TenantId;

/// Written as the value of a key half that has no fields (the sort key of a model without one,
/// or of an index declared with a partition key only). It cannot collide with a value: such a
/// half never holds anything else.
pub(crate) const NO_VALUE_MARKER: &str = "_";

/// Whose keys these are: one tenant's, or nobody's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// Keys start with `[tenant]#`.
    Tenant(TenantId),
    /// Keys carry no tenant part: tenancy is off, or the model is `#[bao(global)]`.
    Global,
}

impl KeyScope {
    /// The tenant, when there is one.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            KeyScope::Tenant(t) => Some(t),
            KeyScope::Global => None,
        }
    }

    /// The prefix every key of this scope carries, whatever the model: `[t]#`, or nothing.
    pub fn tenant_prefix(&self) -> String {
        match self {
            KeyScope::Tenant(t) => format!("[{}]{SEPARATOR}", t.as_str()),
            KeyScope::Global => String::new(),
        }
    }

    /// The prefix every key of `model_prefix` carries in this scope: `[t]#prefix#` or `prefix#`.
    pub fn model_prefix(&self, model_prefix: &str) -> String {
        let mut s = String::with_capacity(model_prefix.len() + 70);
        if let KeyScope::Tenant(t) = self {
            s.push('[');
            s.push_str(t.as_str());
            s.push(']');
            s.push(SEPARATOR);
        }
        s.push_str(model_prefix);
        s.push(SEPARATOR);
        s
    }

    /// The full stored key for one key half.
    pub fn key(&self, model_prefix: &str, value: &KeyValue) -> String {
        let mut s = self.model_prefix(model_prefix);
        s.push_str(value.as_encoded());
        s
    }

    /// The inverse of [`key`](KeyScope::key): the value of a stored key half of
    /// `model_prefix` in this scope. `None` when the key belongs to another scope or model, or
    /// is not a model key at all (a unique-constraint key, say).
    pub(crate) fn strip(&self, model_prefix: &str, stored: &str) -> Option<KeyValue> {
        let rest = stored.strip_prefix(self.model_prefix(model_prefix).as_str())?;
        let well_formed = rest
            .split(SEPARATOR)
            .all(|part| super::encode::decode_text(part).is_some());
        well_formed.then(|| KeyValue(rest.to_owned()))
    }
}

/// The encoded value of one key half (one or more fields joined by `#`), without tenant or
/// model prefix. It can only be built from [`KeyPart`]s, never from a raw string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyValue(pub(super) String);

impl KeyValue {
    /// The value of a key half that has no fields.
    pub fn empty_marker() -> Self {
        KeyValue(NO_VALUE_MARKER.to_owned())
    }

    /// The encoded form, as it appears after the model prefix.
    pub fn as_encoded(&self) -> &str {
        &self.0
    }
}

/// Builds a [`KeyValue`] field by field.
#[derive(Debug, Default)]
pub struct KeyValueBuilder {
    buf: String,
    parts: usize,
}

impl KeyValueBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one field's value, after a separator if it is not the first.
    pub fn push<T: KeyPart + ?Sized>(&mut self, value: &T) -> Result<(), InvalidKeyPart> {
        if self.parts > 0 {
            self.buf.push(SEPARATOR);
        }
        value.write_key(&mut KeyWriter::new(&mut self.buf))?;
        self.parts += 1;
        Ok(())
    }

    /// Appends a value already encoded by a [`KeyWriter`].
    pub(crate) fn push_encoded(&mut self, encoded: &str) {
        if self.parts > 0 {
            self.buf.push(SEPARATOR);
        }
        self.buf.push_str(encoded);
        self.parts += 1;
    }

    /// The finished value; a half with no fields gets the fixed marker.
    pub fn finish(self) -> KeyValue {
        if self.parts == 0 {
            KeyValue::empty_marker()
        } else {
            KeyValue(self.buf)
        }
    }

    /// The value so far exactly as written (no marker when empty), for `begins_with` on text.
    pub(crate) fn finish_raw(self) -> KeyValue {
        KeyValue(self.buf)
    }

    /// The values so far as the leading parts of longer keys, for conditions on a prefix of a
    /// composite key.
    pub(crate) fn finish_prefix(self) -> KeyPrefix {
        KeyPrefix(self.buf)
    }
}

/// The encoded leading parts of composite keys (`due` of a `(due, id)` sort key), and the
/// bounds that select keys by them.
///
/// Every key whose leading parts are `p` is `p`, a separator, then more: the separator sorts
/// below every character an encoded part holds (those start at `$`), so such keys sort after
/// `p` itself and before `p` followed by the character after the separator (`$`). Since
/// encodings sort like values, keys whose leading parts are smaller than `p` sort below `p`,
/// and larger ones above `p$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPrefix(String);

impl KeyPrefix {
    /// Below every key with these leading parts or larger ones, above every smaller one.
    pub(crate) fn lower(&self) -> KeyValue {
        KeyValue(self.0.clone())
    }

    /// Above every key with these leading parts or smaller ones, below every larger one.
    pub(crate) fn upper(&self) -> KeyValue {
        let mut v = self.0.clone();
        v.push(AFTER_SEPARATOR);
        KeyValue(v)
    }

    /// What every key with exactly these leading parts starts with.
    pub(crate) fn members(&self) -> KeyValue {
        let mut v = self.0.clone();
        v.push(SEPARATOR);
        KeyValue(v)
    }
}

/// The character after [`SEPARATOR`].
const AFTER_SEPARATOR: char = '$';
const _: () = assert!(AFTER_SEPARATOR as u32 == SEPARATOR as u32 + 1);

/// A stored key taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The tenant, or `Global`.
    pub scope: KeyScope,
    /// The model prefix.
    pub model_prefix: &'a str,
    /// The encoded values of the fields, in order (text parts decode with
    /// [`decode_text`](super::decode_text)).
    pub parts: Vec<&'a str>,
}

/// Parses a stored key back into (tenant, model prefix, encoded values).
///
/// `tenanted` says which form to expect: a global key's prefix could otherwise be read as a
/// value. Returns `None` for strings no key builder produces.
pub fn parse_key(stored: &str, tenanted: bool) -> Option<ParsedKey<'_>> {
    let (scope, rest) = if tenanted {
        let rest = stored.strip_prefix('[')?;
        let close = rest.find(']')?;
        let tenant = TenantId::new(&rest[..close]).ok()?;
        let rest = rest[close + 1..].strip_prefix(SEPARATOR)?;
        (KeyScope::Tenant(tenant), rest)
    } else {
        (KeyScope::Global, stored)
    };
    let (model_prefix, values) = rest.split_once(SEPARATOR)?;
    if model_prefix.is_empty() || model_prefix.contains(['[', ']']) {
        return None;
    }
    Some(ParsedKey {
        scope,
        model_prefix,
        parts: values.split(SEPARATOR).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use super::super::test_support::{tenant, value};

    #[test]
    fn layout_matches_the_design() {
        assert_eq!(tenant("acme").key("u", &value(&["42"])), "[acme]#u#42");
        assert_eq!(KeyScope::Global.key("u", &value(&["42"])), "u#42");
        assert_eq!(tenant("acme").key("u", &value(&["a", "b"])), "[acme]#u#a#b");
        assert_eq!(tenant("acme").key("u", &value(&[])), "[acme]#u#_");
        assert_eq!(tenant("acme").key("u", &value(&["a#b"])), "[acme]#u#a$cb");
    }

    #[test]
    fn tenants_that_prefix_each_other_share_no_key_prefix() {
        let ids = ["a", "a.b", "acme", "acme-corp", "acme.corp", "a-", "A"];
        for x in ids {
            for y in ids {
                if x != y {
                    let px = tenant(x).model_prefix("u");
                    let py = tenant(y).model_prefix("u");
                    assert!(!py.starts_with(&px), "{py} starts with {px}");
                }
            }
        }
    }

    #[test]
    fn parse_round_trips() {
        let k = tenant("acme-1").key("post", &value(&["x#y", "z"]));
        let p = parse_key(&k, true).unwrap();
        assert_eq!(p.scope, tenant("acme-1"));
        assert_eq!(p.model_prefix, "post");
        assert_eq!(p.parts, vec!["x$cy", "z"]);
        assert_eq!(super::super::decode_text(p.parts[0]).unwrap(), "x#y");
        assert!(parse_key("[bad#]#u#1", true).is_none());
        assert!(parse_key("nobrackets#u#1", true).is_none());
        assert_eq!(parse_key("u#1", false).unwrap().scope, KeyScope::Global);
    }

    fn arb_tenant() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._-]{1,12}"
    }
    fn arb_prefix() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,4}"
    }
    fn arb_values() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop_oneof![
                Just(String::new()),
                Just("#".to_string()),
                Just("[x]#".to_string()),
                Just("$".to_string()),
                any::<String>(),
                "[#\\[\\]$a]{0,4}",
            ],
            1..3,
        )
    }

    proptest! {
        #[test]
        fn layout_is_injective(
            t1 in arb_tenant(), p1 in arb_prefix(), v1 in arb_values(),
            t2 in arb_tenant(), p2 in arb_prefix(), v2 in arb_values(),
        ) {
            let k1 = tenant(&t1).key(&p1, &value(&v1.iter().map(String::as_str).collect::<Vec<_>>()));
            let k2 = tenant(&t2).key(&p2, &value(&v2.iter().map(String::as_str).collect::<Vec<_>>()));
            if (&t1, &p1, &v1) != (&t2, &p2, &v2) {
                prop_assert_ne!(&k1, &k2);
            }
            // Another tenant's keys never start with this tenant's prefix.
            if t1 != t2 {
                prop_assert!(!k2.starts_with(&tenant(&t1).model_prefix(&p1)));
            }
            // The key parses back to what built it.
            let parsed = parse_key(&k1, true).unwrap();
            prop_assert_eq!(parsed.scope, tenant(&t1));
            prop_assert_eq!(parsed.model_prefix, p1.as_str());
            let decoded: Vec<String> = parsed.parts.iter().map(|p| super::super::decode_text(p).unwrap()).collect();
            prop_assert_eq!(decoded, v1);
        }

        #[test]
        fn composite_order_is_field_order(a in arb_values(), b in arb_values()) {
            prop_assume!(a.len() == b.len());
            let ka = value(&a.iter().map(String::as_str).collect::<Vec<_>>());
            let kb = value(&b.iter().map(String::as_str).collect::<Vec<_>>());
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }
    }
}
