//! The key builder: the only code that formats stored keys ([invariant 1](crate#invariants)).
//!
//! `encode` turns single values into order-preserving strings; `layout` joins them with the
//! tenant and model prefix into `_pk`, `_sk` and `_gsiN_*` values and parses them back. Nothing
//! else in the crate writes a key string, and no public API accepts one.
//!
//! # Sparse indexes
//!
//! Each half of an index key (`_gsiN_pk`, `_gsiN_sk`) is written when all of *its own* fields are
//! present, and removed when one of them becomes `None`. An item is in an index exactly when both
//! halves are present, that is when every field of the index key is present. Writing the halves
//! independently is what lets an update recompute the half whose fields it changes from the values
//! it is given, without reading the item first: the other half is already right.
//!
//! # Unique-constraint keys
//!
//! A unique constraint `by_email` of model prefix `u` holding value `v` is its own item:
//! `_pk = [t]#u#$unique#by_email#<v encoded as a key part>`, `_sk = [t]#u#$unique#by_email`, with
//! `_owner_pk`/`_owner_sk` naming the owner. An encoded key value never starts with `$u` (text
//! escapes `$` itself as `$d`, and escapes only map to `$@`..`$d`), so a constraint key can never
//! equal a model key; [`parse_unique_key`] reads one back.

mod encode;
mod layout;
mod stored;
mod unique;

#[doc(hidden)]
pub use encode::write_serialized_str;
pub use encode::{decode_text, encode_part, InvalidKeyPart, KeyPart, KeyWriter};
pub use layout::{parse_key, KeyScope, ParsedKey};
pub(crate) use layout::{KeyPrefix, KeyValue, KeyValueBuilder};
pub(crate) use stored::StoredKey;
pub use unique::{parse_unique_key, ParsedUniqueKey};
pub(crate) use unique::{OWNER_PK_ATTR, OWNER_SK_ATTR};

/// The stored attribute holding the partition key.
pub const PK_ATTR: &str = "_pk";
/// The stored attribute holding the sort key.
pub const SK_ATTR: &str = "_sk";
/// The attribute the table's TTL is enabled on: a `#[bao(ttl)]` field, as epoch seconds.
pub const TTL_ATTR: &str = "_ttl";
/// The number of physical GSIs the table has (`gsi1`..`gsi5`).
pub(crate) const GSI_COUNT: u8 = 5;

/// The physical names of each GSI, in order: the index, and the attributes holding its
/// partition and sort keys. The one place these names are written.
const GSI_NAMES: [(&str, &str, &str); GSI_COUNT as usize] = [
    ("gsi1", "_gsi1_pk", "_gsi1_sk"),
    ("gsi2", "_gsi2_pk", "_gsi2_sk"),
    ("gsi3", "_gsi3_pk", "_gsi3_sk"),
    ("gsi4", "_gsi4_pk", "_gsi4_sk"),
    ("gsi5", "_gsi5_pk", "_gsi5_sk"),
];

/// The physical names of GSI `n` (1-based): index name, partition key attribute, sort key
/// attribute. `None` outside `1..=GSI_COUNT`.
pub(crate) const fn gsi_names(n: u8) -> Option<(&'static str, &'static str, &'static str)> {
    if n == 0 || n > GSI_COUNT {
        None
    } else {
        Some(GSI_NAMES[n as usize - 1])
    }
}

/// The first character of every top-level attribute name dynabao reserves for itself.
pub(crate) const RESERVED_ATTR_MARK: char = '_';

/// Whether `name` is reserved for dynabao: every top-level attribute name that begins with `_`.
///
/// That covers what the crate stores today (`_pk`, `_sk`, `_gsiN_pk`/`_gsiN_sk`, the TTL
/// attribute `_ttl`, a unique-constraint item's `_owner_pk`/`_owner_sk`) and keeps the rest of
/// the namespace free for what it will store next. This is the one definition of the reserved
/// set: no model field may be stored under such a name, whatever produces it (a field, a serde
/// rename, a `#[serde(flatten)]` map, a hand-written `Serialize`). The derive rejects reserved
/// names it can see at compile time; every write checks what the value actually serializes to
/// and refuses a reserved name with [`Error::ReservedAttribute`](crate::Error::ReservedAttribute)
/// before anything is sent. Names nested inside a field's value are the field's own business.
pub fn is_reserved_attr(name: &str) -> bool {
    name.starts_with(RESERVED_ATTR_MARK)
}

/// Whether an attribute name is one dynabao writes for keys (never a model field).
pub fn is_key_attr(name: &str) -> bool {
    name == PK_ATTR
        || name == SK_ATTR
        || (name.starts_with("_gsi") && (name.ends_with("_pk") || name.ends_with("_sk")))
}

/// Builders shared by the key module's tests.
#[cfg(test)]
mod test_support {
    use super::{KeyScope, KeyValue, KeyValueBuilder};
    use crate::tenant::TenantId;

    /// The scope of tenant `s` (a valid id).
    pub(super) fn tenant(s: &str) -> KeyScope {
        KeyScope::Tenant(TenantId::new(s).unwrap())
    }

    /// A key value of text parts.
    pub(super) fn value(parts: &[&str]) -> KeyValue {
        let mut b = KeyValueBuilder::new();
        for p in parts {
            b.push(*p).unwrap();
        }
        b.finish()
    }
}

#[cfg(test)]
mod gsi_tests {
    use super::*;

    #[test]
    fn every_gsi_has_names_the_crate_reserves() {
        for n in 1..=GSI_COUNT {
            let (index, pk, sk) = gsi_names(n).unwrap();
            assert_eq!(index, format!("gsi{n}"));
            assert_eq!((pk, sk), (&*format!("_gsi{n}_pk"), &*format!("_gsi{n}_sk")));
            assert!(is_key_attr(pk) && is_key_attr(sk));
            assert!(is_reserved_attr(pk) && is_reserved_attr(sk));
        }
        assert_eq!(gsi_names(0), None);
        assert_eq!(gsi_names(GSI_COUNT + 1), None);
    }
}
