//! Keys of unique-constraint items.
//!
//! A model's unique constraint `by_email` on value `v` is held by one item of its own, in the
//! owner's scope and under the owner's model prefix:
//!
//! | attribute | value |
//! |---|---|
//! | `_pk` | `[t]#prefix#$unique#by_email#<v encoded as a key part>` |
//! | `_sk` | `[t]#prefix#$unique#by_email` |
//!
//! `$unique` cannot start an encoded key value: encoded text escapes every character up to `$`
//! as `$` followed by one of `@`..=`d`, and numbers are hex digits, so `$u` never appears at the
//! start of a field of a model key. A constraint key therefore never equals a model key, and
//! [`parse_key`](super::parse_key) followed by [`decode_text`](super::decode_text) rejects it as a
//! model key. Constraint names are Rust identifiers (checked by the derive), so they hold no `#`,
//! and the layout reads back unambiguously: (tenant, model, constraint, value) is injective.

use super::encode::SEPARATOR;
use super::layout::{KeyScope, KeyValue};
use crate::tenant::TenantId;

/// The marker after the model prefix that makes a key a unique-constraint key.
pub(crate) const UNIQUE_MARKER: &str = "$unique";

/// The attributes of a constraint item that name its owner's stored key.
pub(crate) const OWNER_PK_ATTR: &str = "_owner_pk";
/// See [`OWNER_PK_ATTR`].
pub(crate) const OWNER_SK_ATTR: &str = "_owner_sk";

impl KeyScope {
    /// The stored `(_pk, _sk)` of the item holding unique constraint `constraint` of model
    /// `model_prefix` for `value`, in this scope.
    ///
    /// `constraint` must be an identifier (the derive guarantees it for generated code).
    pub(crate) fn unique_key(
        &self,
        model_prefix: &str,
        constraint: &str,
        value: &KeyValue,
    ) -> (String, String) {
        let mut sk = self.model_prefix(model_prefix);
        sk.push_str(UNIQUE_MARKER);
        sk.push(SEPARATOR);
        sk.push_str(constraint);
        let mut pk = sk.clone();
        pk.push(SEPARATOR);
        pk.push_str(value.as_encoded());
        (pk, sk)
    }
}

/// A unique-constraint key taken apart by [`parse_unique_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUniqueKey<'a> {
    /// The tenant, or `Global`.
    pub scope: KeyScope,
    /// The owner model's prefix.
    pub model_prefix: &'a str,
    /// The constraint's name.
    pub constraint: &'a str,
    /// The constrained value, encoded as a key part (text decodes with
    /// [`decode_text`](super::decode_text)).
    pub value: &'a str,
}

/// Parses the `_pk` of a unique-constraint item back into (tenant, model prefix, constraint,
/// encoded value). `None` for any other string, model keys included.
pub fn parse_unique_key(stored: &str, tenanted: bool) -> Option<ParsedUniqueKey<'_>> {
    let (scope, rest) = if tenanted {
        let rest = stored.strip_prefix('[')?;
        let close = rest.find(']')?;
        let tenant = TenantId::new(&rest[..close]).ok()?;
        let rest = rest[close + 1..].strip_prefix(SEPARATOR)?;
        (KeyScope::Tenant(tenant), rest)
    } else {
        (KeyScope::Global, stored)
    };
    let (model_prefix, rest) = rest.split_once(SEPARATOR)?;
    if model_prefix.is_empty() || model_prefix.contains(['[', ']']) {
        return None;
    }
    let rest = rest.strip_prefix(UNIQUE_MARKER)?.strip_prefix(SEPARATOR)?;
    let (constraint, value) = rest.split_once(SEPARATOR)?;
    let is_ident = !constraint.is_empty()
        && constraint
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_ident {
        return None;
    }
    Some(ParsedUniqueKey {
        scope,
        model_prefix,
        constraint,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{decode_text, parse_key};
    use super::*;
    use proptest::prelude::*;

    use super::super::test_support::{tenant, value};

    #[test]
    fn layout_and_parse() {
        let (pk, sk) = tenant("acme").unique_key("u", "by_email", &value(&["a#b@x.io"]));
        assert_eq!(pk, "[acme]#u#$unique#by_email#a$cb@x.io");
        assert_eq!(sk, "[acme]#u#$unique#by_email");
        let p = parse_unique_key(&pk, true).unwrap();
        assert_eq!(p.scope, tenant("acme"));
        assert_eq!(p.model_prefix, "u");
        assert_eq!(p.constraint, "by_email");
        assert_eq!(decode_text(p.value).unwrap(), "a#b@x.io");

        let (gpk, _) = KeyScope::Global.unique_key("plan", "by_name", &value(&["x"]));
        assert_eq!(gpk, "plan#$unique#by_name#x");
        assert!(parse_unique_key(&gpk, false).is_some());
        assert!(parse_unique_key(&gpk, true).is_none());
    }

    #[test]
    fn model_keys_are_not_constraint_keys_and_back() {
        let model = tenant("acme").key("u", &value(&["$unique", "by_email", "v"]));
        assert!(parse_unique_key(&model, true).is_none(), "{model}");
        let (pk, _) = tenant("acme").unique_key("u", "by_email", &value(&["v"]));
        // As a model key it parses, but its first field is not an encoded value.
        let parsed = parse_key(&pk, true).unwrap();
        assert_eq!(decode_text(parsed.parts[0]), None);
        assert!(tenant("acme").strip("u", &pk).is_none());
        assert!(tenant("acme").strip("u", &model).is_some());
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("$unique".to_string()),
            Just("#".to_string()),
            any::<String>(),
            "[#$a-z_]{0,10}",
        ]
    }

    proptest! {
        #[test]
        fn constraint_keys_never_collide_with_model_keys(
            prefix in "[a-z]{1,3}",
            name in "[a-z_][a-z0-9_]{0,8}",
            v in arb_text(),
            fields in prop::collection::vec(arb_text(), 1..4),
        ) {
            let scope = tenant("t1");
            let (pk, sk) = scope.unique_key(&prefix, &name, &value(&[v.as_str()]));
            let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            let model = scope.key(&prefix, &value(&field_refs));
            prop_assert_ne!(&pk, &model);
            prop_assert_ne!(&sk, &model);
            // And it reads back to what built it.
            let p = parse_unique_key(&pk, true).unwrap();
            prop_assert_eq!(p.model_prefix, prefix.as_str());
            prop_assert_eq!(p.constraint, name.as_str());
            prop_assert_eq!(decode_text(p.value), Some(v.clone()));
        }

        #[test]
        fn constraint_keys_are_injective(
            n1 in "[a-z_]{1,6}", v1 in arb_text(), t1 in "[a-z]{1,4}",
            n2 in "[a-z_]{1,6}", v2 in arb_text(), t2 in "[a-z]{1,4}",
        ) {
            let k1 = tenant(&t1).unique_key("u", &n1, &value(&[v1.as_str()]));
            let k2 = tenant(&t2).unique_key("u", &n2, &value(&[v2.as_str()]));
            if (&t1, &n1, &v1) != (&t2, &n2, &v2) {
                prop_assert_ne!(k1.0, k2.0);
            }
        }
    }
}
