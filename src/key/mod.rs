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
mod model_keys;
mod stored;
mod unique;

#[doc(hidden)]
pub use encode::write_serialized_str;
pub use encode::{decode_text, encode_part, InvalidKeyPart, KeyPart, KeyWriter};
pub use layout::{parse_key, KeyScope, KeyValue, KeyValueBuilder, ParsedKey};
pub(crate) use model_keys::{
    bucket_value, carries_tenant, check_item_scope, half_value, index_halves, item_keys,
};
pub(crate) use model_keys::{check_item_scope_schema, unique_value, ErasedKey};
pub use model_keys::{InvalidKey, Key, KeyBuilder};
pub(crate) use stored::StoredKey;
pub use unique::{parse_unique_key, ParsedUniqueKey};
pub(crate) use unique::{OWNER_PK_ATTR, OWNER_SK_ATTR};

/// The stored attribute holding the partition key.
pub const PK_ATTR: &str = "_pk";
/// The stored attribute holding the sort key.
pub const SK_ATTR: &str = "_sk";
/// The number of physical GSIs the table has (`gsi1`..`gsi5`).
pub const GSI_COUNT: u8 = 5;

/// The physical name of GSI `n` (`gsi1`..`gsi5`).
pub fn gsi_name(n: u8) -> String {
    format!("gsi{n}")
}

/// The attribute holding the partition key of GSI `n`.
pub fn gsi_pk_attr(n: u8) -> String {
    format!("_gsi{n}_pk")
}

/// The attribute holding the sort key of GSI `n`.
pub fn gsi_sk_attr(n: u8) -> String {
    format!("_gsi{n}_sk")
}

/// The first character of every top-level attribute name dynabao reserves for itself.
pub const RESERVED_ATTR_MARK: char = '_';

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
