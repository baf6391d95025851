//! Serializing a model value into its top-level attributes, refusing what a model may not store.
//!
//! `serde_dynamo::to_item` builds the item in a map, so a name produced twice (a field and a
//! `#[serde(flatten)]` map entry of the same name) silently keeps the last value, and any name is
//! accepted, the crate's own key attributes included. This serializer sees every top-level name
//! as serde produces it, whatever produced it (fields, renames, flattened maps or structs, a
//! hand-written `Serialize`), and refuses:
//!
//! - a reserved name ([`is_reserved_attr`]): the value could otherwise plant `_pk`, an index key
//!   of another tenant, `_ttl`, ...;
//! - a name produced twice: a flattened map could otherwise override `version`, timestamps or
//!   any other field.
//!
//! Values below the top level are serialized by serde_dynamo, exactly as `to_item` would.

use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::ser::{self, Impossible, Serialize};

use crate::error::Item;
use crate::key::is_reserved_attr;

/// Why a value cannot be stored as a model item.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A top-level name is reserved for dynabao.
    Reserved(String),
    /// A top-level name was produced twice.
    Duplicate(String),
    /// serde_dynamo could not serialize a value, or the value is not map-like.
    Value(serde_dynamo::Error),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Reserved(name) => write!(f, "attribute {name:?} is reserved"),
            Refused::Duplicate(name) => write!(f, "attribute {name:?} is written twice"),
            Refused::Value(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Refused {}

impl ser::Error for Refused {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Refused::Value(<serde_dynamo::Error as ser::Error>::custom(msg))
    }
}

/// The top-level attributes of `value`, which must serialize as a struct or a map.
pub(crate) fn to_item<T: Serialize + ?Sized>(value: &T) -> Result<Item, Refused> {
    value.serialize(TopLevel)
}

/// A value that is not map-like: a model is a struct (or a map) of fields.
fn not_a_map<T>() -> Result<T, Refused> {
    Err(ser::Error::custom(
        "a model must serialize as a map of fields",
    ))
}

struct TopLevel;

macro_rules! refuse_scalars {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _v: $ty) -> Result<Item, Refused> { not_a_map() })*
    };
}

impl ser::Serializer for TopLevel {
    type Ok = Item;
    type Error = Refused;
    type SerializeSeq = Impossible<Item, Refused>;
    type SerializeTuple = Impossible<Item, Refused>;
    type SerializeTupleStruct = Impossible<Item, Refused>;
    type SerializeTupleVariant = Impossible<Item, Refused>;
    type SerializeMap = Fields;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Item, Refused>;

    refuse_scalars!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
    );

    fn serialize_none(self) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_unit(self) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
    ) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Item, Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Item, Refused> {
        not_a_map()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Refused> {
        not_a_map()
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Refused> {
        not_a_map()
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Refused> {
        not_a_map()
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        not_a_map()
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Fields, Refused> {
        Ok(Fields::new(len.unwrap_or(0)))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Fields, Refused> {
        Ok(Fields::new(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        not_a_map()
    }
}

/// The attributes collected so far.
struct Fields {
    item: Item,
    key: Option<String>,
}

impl Fields {
    fn new(len: usize) -> Self {
        Fields {
            item: Item::with_capacity(len),
            key: None,
        }
    }

    fn insert<T: Serialize + ?Sized>(&mut self, name: String, value: &T) -> Result<(), Refused> {
        if is_reserved_attr(&name) {
            return Err(Refused::Reserved(name));
        }
        let value = serde_dynamo::to_attribute_value(value).map_err(Refused::Value)?;
        if self.item.contains_key(&name) {
            return Err(Refused::Duplicate(name));
        }
        self.item.insert(name, value);
        Ok(())
    }
}

/// A map key as serde_dynamo names it: strings and characters as they are, integers and
/// booleans in their text form; anything else is refused.
fn key_name<K: Serialize + ?Sized>(key: &K) -> Result<String, Refused> {
    match serde_dynamo::to_attribute_value(key).map_err(Refused::Value)? {
        AttributeValue::S(s) | AttributeValue::N(s) => Ok(s),
        AttributeValue::Bool(b) => Ok(b.to_string()),
        _ => Err(ser::Error::custom("map keys of a model must be strings")),
    }
}

impl ser::SerializeStruct for Fields {
    type Ok = Item;
    type Error = Refused;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        self.insert(key.to_owned(), value)
    }

    fn end(self) -> Result<Item, Refused> {
        Ok(self.item)
    }
}

impl ser::SerializeMap for Fields {
    type Ok = Item;
    type Error = Refused;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Refused> {
        self.key = Some(key_name(key)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        match self.key.take() {
            Some(name) => self.insert(name, value),
            None => Err(ser::Error::custom("map value without a key")),
        }
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), Refused> {
        let name = key_name(key)?;
        self.insert(name, value)
    }

    fn end(self) -> Result<Item, Refused> {
        Ok(self.item)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Plain {
        id: String,
        n: i64,
        tags: Vec<String>,
        nested: HashMap<String, u8>,
        maybe: Option<String>,
    }

    #[derive(Serialize)]
    struct Flattened {
        id: String,
        version: u64,
        #[serde(flatten)]
        extra: BTreeMap<String, String>,
    }

    fn flattened(extra: &[(&str, &str)]) -> Flattened {
        Flattened {
            id: "a".into(),
            version: 1,
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn reserved_names_are_refused_wherever_they_come_from() {
        for name in [
            "_pk",
            "_sk",
            "_gsi2_pk",
            "_gsi5_sk",
            "_gsi9_pk",
            "_ttl",
            "_owner_pk",
            "_owner_sk",
            "_anything",
        ] {
            match to_item(&flattened(&[(name, "x")])) {
                Err(Refused::Reserved(n)) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
            let mut map = HashMap::new();
            map.insert(name.to_owned(), 1u8);
            assert!(matches!(to_item(&map), Err(Refused::Reserved(_))), "{name}");
        }
        // Nested names are the field's own: not reserved.
        let mut nested = HashMap::new();
        nested.insert("_pk".to_owned(), 1u8);
        let plain = Plain {
            id: "a".into(),
            n: 1,
            tags: vec![],
            nested,
            maybe: None,
        };
        assert!(to_item(&plain).is_ok());
    }

    #[test]
    fn a_name_produced_twice_is_refused() {
        match to_item(&flattened(&[("version", "99")])) {
            Err(Refused::Duplicate(n)) => assert_eq!(n, "version"),
            other => panic!("{other:?}"),
        }
        assert!(to_item(&flattened(&[("id", "b")])).is_err());
        assert!(to_item(&flattened(&[("custom", "b")])).is_ok());
    }

    #[test]
    fn only_map_like_values_are_items() {
        assert!(matches!(to_item(&5u8), Err(Refused::Value(_))));
        assert!(matches!(to_item(&vec![1u8]), Err(Refused::Value(_))));
        assert!(matches!(to_item("text"), Err(Refused::Value(_))));
        let mut float_keys = BTreeMap::new();
        float_keys.insert(vec![1u8], 1u8);
        assert!(to_item(&float_keys).is_err());
    }

    proptest! {
        /// Whatever it accepts, it encodes exactly as serde_dynamo does.
        #[test]
        fn agrees_with_serde_dynamo(
            id in ".*",
            n in any::<i64>(),
            tags in prop::collection::vec(".*", 0..3),
            nested in prop::collection::hash_map("[a-z_]{0,4}", any::<u8>(), 0..3),
            maybe in prop::option::of(".*"),
            extra in prop::collection::btree_map("[a-z][a-z0-9_]{0,6}", ".*", 0..4),
        ) {
            let plain = Plain { id: id.clone(), n, tags, nested, maybe };
            let expected: Item = serde_dynamo::to_item(&plain).unwrap();
            prop_assert_eq!(to_item(&plain).unwrap(), expected);
            let extra: BTreeMap<String, String> =
                extra.into_iter().filter(|(k, _)| k != "id" && k != "version").collect();
            let f = Flattened { id, version: 3, extra };
            let expected: Item = serde_dynamo::to_item(&f).unwrap();
            prop_assert_eq!(to_item(&f).unwrap(), expected);
        }
    }
}
