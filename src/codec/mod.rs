//! Model values to DynamoDB items and back, through serde_dynamo.
//!
//! Key attributes are not part of the model: they are added after encoding (by the key builder)
//! and stripped before decoding. The TTL field is stored under the table's TTL attribute as epoch
//! seconds, whatever its Rust type.
//!
//! # What a model may store
//!
//! Every top-level attribute name that begins with `_` is reserved for dynabao
//! ([`is_reserved_attr`](crate::key::is_reserved_attr)). A value whose serialization names one,
//! from a field, a rename, a `#[serde(flatten)]` map or a hand-written `Serialize`, is refused
//! with [`Error::ReservedAttribute`] before anything is sent; a value that produces one name
//! twice (a flattened map entry named like a field) is [`Error::DuplicateAttribute`]. So key
//! attributes, index keys and `_ttl` are only ever what the key builder and the codec computed:
//! an index key half whose fields are absent is left out of a whole-item write, never taken from
//! the value. On the way back, reserved attributes are removed before serde sees the item, so a
//! flattened map never receives `_pk` and the like.

mod fields;
mod returned;
mod size;

pub(crate) use size::check_item_size;

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use crate::error::{Error, Item};
use crate::key::{self, KeyScope};
use crate::model::{Model, TtlRepr};

/// Encodes a model value into its stored fields (no key attributes).
pub(crate) fn encode<M: Model>(value: &M) -> Result<Item, Error> {
    let model = M::SCHEMA.name;
    let mut item: Item = fields::to_item(value).map_err(|refused| match refused {
        fields::Refused::Reserved(attr) => Error::ReservedAttribute { model, attr },
        fields::Refused::Duplicate(attr) => Error::DuplicateAttribute { model, attr },
        fields::Refused::Value(source) => Error::Encode {
            model,
            source: Arc::new(source),
        },
    })?;
    // DynamoDB stores no empty sets; an absent attribute reads back as an empty one.
    item.retain(|_, v| !crate::set::is_empty_set(v));
    if let Some(ttl) = M::SCHEMA.ttl {
        // The struct serializes the field under its own name; the table expects `_ttl`.
        if let Some(v) = item.remove(ttl.serialized) {
            item.insert(ttl.attr.to_owned(), ttl_to_stored::<M>(v)?);
        }
    }
    Ok(item)
}

/// Converts one field value to its stored form (only the TTL field differs).
pub(crate) fn field_to_stored<M: Model>(
    attr: &str,
    value: AttributeValue,
) -> Result<AttributeValue, Error> {
    match M::SCHEMA.ttl {
        Some(ttl) if ttl.attr == attr => ttl_to_stored::<M>(value),
        _ => Ok(value),
    }
}

fn ttl_to_stored<M: Model>(value: AttributeValue) -> Result<AttributeValue, Error> {
    match value {
        AttributeValue::S(s) => {
            let t = DateTime::parse_from_rfc3339(&s).map_err(|e| Error::MalformedItem {
                model: M::SCHEMA.name,
                reason: format!("ttl field is not an RFC 3339 timestamp: {e}"),
            })?;
            Ok(AttributeValue::N(t.timestamp().to_string()))
        }
        other => Ok(other),
    }
}

fn ttl_from_stored<M: Model>(value: AttributeValue) -> Result<AttributeValue, Error> {
    match (M::TTL_REPR, value) {
        (TtlRepr::DateTime, AttributeValue::N(n)) => {
            let secs: i64 = n.parse().map_err(|_| Error::MalformedItem {
                model: M::SCHEMA.name,
                reason: format!("ttl attribute {n:?} is not whole epoch seconds"),
            })?;
            let t =
                DateTime::<Utc>::from_timestamp(secs, 0).ok_or_else(|| Error::MalformedItem {
                    model: M::SCHEMA.name,
                    reason: format!("ttl attribute {secs} is out of range"),
                })?;
            Ok(AttributeValue::S(t.to_rfc3339()))
        }
        (_, other) => Ok(other),
    }
}

/// Decodes a stored item after checking it belongs to `scope` and model `M` (invariant 5).
/// Every decode of a stored item goes through here or [`decode_projection_checked`].
pub(crate) fn decode_checked<M: Model>(scope: &KeyScope, item: Item) -> Result<M, Error> {
    decode_projection_checked::<M, M>(scope, item)
}

/// Decodes a stored item of model `M` into a projection type `P`, after the same check as
/// [`decode_checked`].
pub(crate) fn decode_projection_checked<M: Model, P: serde::de::DeserializeOwned>(
    scope: &KeyScope,
    item: Item,
) -> Result<P, Error> {
    crate::model::check_item_scope::<M>(scope, &item)?;
    decode_fields::<M, P>(item)
}

/// Decodes the item a write that DynamoDB applied returned (the item as updated, or as it was
/// before a delete). A failure to decode it does not undo the write, so it is reported as
/// [`Error::WrittenNotDecoded`], which says the write happened and carries the decode failure
/// (the same one a read of the item gives), never as an error that suggests the write failed.
pub(crate) fn decode_written<M: Model>(
    scope: &KeyScope,
    operation: &'static str,
    item: Item,
) -> Result<M, Error> {
    decode_checked(scope, item).map_err(|source| Error::WrittenNotDecoded {
        model: M::SCHEMA.name,
        operation,
        source: Box::new(source),
    })
}

/// The fields of a stored item of model `M`, whose scope the caller checked, decoded into `P`.
pub(super) fn decode_fields<M: Model, P: serde::de::DeserializeOwned>(
    mut item: Item,
) -> Result<P, Error> {
    let ttl = M::SCHEMA
        .ttl
        .and_then(|ttl| item.remove(ttl.attr).map(|v| (ttl, v)));
    item.retain(|name, _| !key::is_reserved_attr(name));
    if let Some((ttl, v)) = ttl {
        item.insert(ttl.serialized.to_owned(), ttl_from_stored::<M>(v)?);
    }
    serde_dynamo::from_item(item).map_err(|source| Error::Decode {
        model: M::SCHEMA.name,
        source: Arc::new(source),
    })
}

/// Encodes a model value with every key attribute, ready for PutItem.
pub(crate) fn encode_with_keys<M: Model>(scope: &KeyScope, value: &M) -> Result<Item, Error> {
    let mut item = encode(value)?;
    let keys = crate::model::item_keys::<M>(scope, &item)?;
    set_keys(&mut item, keys);
    Ok(item)
}

/// Writes the key attributes computed by [`crate::model::item_keys`] into an encoded item: each half that
/// has a value is set, each absent half is removed (never left as the value supplied it).
pub(crate) fn set_keys(item: &mut Item, keys: Vec<(&'static str, Option<String>)>) {
    for (attr, v) in keys {
        match v {
            Some(v) => {
                item.insert(attr.to_owned(), AttributeValue::S(v));
            }
            None => {
                item.remove(attr);
            }
        }
    }
}

/// A copy of an encoding error, for an error kept until a batch is sent: the typed refusals stay
/// typed, anything else becomes [`Error::InvalidRequest`].
pub(crate) fn encode_error_again(model: &'static str, e: &Error) -> Error {
    match e {
        Error::ReservedAttribute { model, attr } => Error::ReservedAttribute {
            model,
            attr: attr.clone(),
        },
        Error::DuplicateAttribute { model, attr } => Error::DuplicateAttribute {
            model,
            attr: attr.clone(),
        },
        other => Error::invalid_request(model, format!("cannot encode the item: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::error::CurrentItem;
    use crate::tenant::TenantId;
    use crate::Model;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
    #[bao(prefix = "cx")]
    struct Crate {
        #[bao(pk)]
        id: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
    #[bao(prefix = "cy")]
    struct Other {
        #[bao(pk)]
        id: String,
    }

    fn tenant(s: &str) -> KeyScope {
        KeyScope::Tenant(TenantId::new(s).unwrap())
    }

    fn stored(owner: &str) -> Item {
        Item::from([
            ("_pk".into(), AttributeValue::S(format!("[{owner}]#cx#1"))),
            ("_sk".into(), AttributeValue::S(format!("[{owner}]#cx#_"))),
            ("id".into(), AttributeValue::S("1".into())),
        ])
    }

    #[test]
    fn a_returned_item_is_checked_before_it_is_decoded() {
        let a = tenant("a");
        let ours = CurrentItem::new(Crate::SCHEMA, a.model_prefix("cx"), stored("a"));
        assert_eq!(
            ours.decode::<Crate>().unwrap().unwrap(),
            Crate { id: "1".into() }
        );
        // Another model: not decoded at all.
        assert!(ours.decode::<Other>().is_none());
        // Another tenant's item: refused, as a read refuses it.
        let theirs = CurrentItem::new(Crate::SCHEMA, a.model_prefix("cx"), stored("b"));
        assert!(matches!(
            theirs.decode::<Crate>(),
            Some(Err(Error::CrossTenant { .. }))
        ));
        assert_eq!(theirs.raw().len(), 3);
    }

    #[test]
    fn absent_key_halves_are_removed_not_kept() {
        let mut item = Item::from([
            ("_gsi1_pk".into(), AttributeValue::S("[b]#cx#x".into())),
            ("id".into(), AttributeValue::S("1".into())),
        ]);
        set_keys(
            &mut item,
            vec![("_gsi1_pk", None), ("_pk", Some("[a]#cx#1".into()))],
        );
        assert!(!item.contains_key("_gsi1_pk"));
        assert_eq!(item.get("_pk"), Some(&AttributeValue::S("[a]#cx#1".into())));
    }

    #[test]
    fn decoding_strips_every_reserved_attribute() {
        let mut item = stored("a");
        item.insert("_future".into(), AttributeValue::S("x".into()));
        item.insert("_owner_pk".into(), AttributeValue::S("x".into()));
        let decoded: Crate = decode_checked(&tenant("a"), item).unwrap();
        assert_eq!(decoded.id, "1");
    }

    #[test]
    fn encoding_refuses_with_typed_errors() {
        #[derive(Debug, Clone, Serialize, Deserialize, Model)]
        #[bao(prefix = "cz")]
        struct Open {
            #[bao(pk)]
            id: String,
            #[serde(flatten)]
            extra: std::collections::BTreeMap<String, String>,
        }
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("_gsi3_pk".to_owned(), "x".to_owned());
        let open = Open {
            id: "1".into(),
            extra,
        };
        match encode_with_keys(&tenant("a"), &open) {
            Err(e @ Error::ReservedAttribute { .. }) => assert_eq!(e.code(), "reserved_attribute"),
            other => panic!("{other:?}"),
        }
        let mut extra = std::collections::BTreeMap::new();
        extra.insert("id".to_owned(), "2".to_owned());
        let open = Open {
            id: "1".into(),
            extra,
        };
        match encode(&open) {
            Err(e @ Error::DuplicateAttribute { .. }) => {
                assert_eq!(e.code(), "duplicate_attribute")
            }
            other => panic!("{other:?}"),
        }
    }
}
