//! DynamoDB string and number sets as model fields.
//!
//! A field of type [`StringSet`] is stored as a DynamoDB string set (`SS`), a [`NumberSet<T>`]
//! as a number set (`NS`). The typed update adds and removes elements atomically
//! ([`Update::add_to_set`](crate::ops::Update::add_to_set),
//! [`Update::remove_from_set`](crate::ops::Update::remove_from_set)), so concurrent writers
//! never lose each other's elements.
//!
//! DynamoDB has no empty sets: writing one is a validation error. dynabao stores an empty set as
//! an absent attribute (a whole-item write leaves it out, an update that sets it removes it, and
//! DynamoDB itself removes a set whose last element is deleted), and an absent attribute reads
//! back as an empty set, with no `#[serde(default)]` needed.
//!
//! ```
//! use dynabao::{Model, StringSet};
//!
//! #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
//! #[bao(prefix = "doc")]
//! struct Doc {
//!     #[bao(pk)]
//!     id: String,
//!     tags: StringSet,
//! }
//!
//! let doc = Doc { id: "d1".into(), tags: StringSet::from_iter(["a", "b"]) };
//! assert!(doc.tags.contains("a"));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use serde::de::{Deserialize, DeserializeOwned, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// A set of strings stored as a DynamoDB string set (`SS`); empty is stored as absent.
/// Dereferences to a [`BTreeSet<String>`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StringSet(pub BTreeSet<String>);

/// A set of numbers stored as a DynamoDB number set (`NS`); empty is stored as absent.
/// Dereferences to a [`BTreeSet<T>`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberSet<T: Ord>(pub BTreeSet<T>);

impl<T: Ord> Default for NumberSet<T> {
    fn default() -> Self {
        NumberSet(BTreeSet::new())
    }
}

impl StringSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Ord> NumberSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Deref for StringSet {
    type Target = BTreeSet<String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
impl DerefMut for StringSet {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
impl<T: Ord> Deref for NumberSet<T> {
    type Target = BTreeSet<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
impl<T: Ord> DerefMut for NumberSet<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<S: Into<String>> FromIterator<S> for StringSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        StringSet(iter.into_iter().map(Into::into).collect())
    }
}
impl<T: Ord> FromIterator<T> for NumberSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        NumberSet(iter.into_iter().collect())
    }
}
impl IntoIterator for StringSet {
    type Item = String;
    type IntoIter = std::collections::btree_set::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
impl<T: Ord> IntoIterator for NumberSet<T> {
    type Item = T;
    type IntoIter = std::collections::btree_set::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
impl From<BTreeSet<String>> for StringSet {
    fn from(s: BTreeSet<String>) -> Self {
        StringSet(s)
    }
}
impl<T: Ord> From<BTreeSet<T>> for NumberSet<T> {
    fn from(s: BTreeSet<T>) -> Self {
        NumberSet(s)
    }
}

impl Serialize for StringSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_dynamo::string_set::serialize(&self.0, serializer)
    }
}

impl<T: Ord + Serialize> Serialize for NumberSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_dynamo::number_set::serialize(&self.0, serializer)
    }
}

/// Reads a set whose attribute may be absent or `NULL` (both mean empty). Going through
/// `deserialize_option` is what lets serde treat a missing field as empty without
/// `#[serde(default)]`, as it does for `Option`.
struct MaybeSet<S>(PhantomData<S>);

impl<'de, S: Deserialize<'de> + Default> Visitor<'de> for MaybeSet<S> {
    type Value = S;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a set, or nothing")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<S, E> {
        Ok(S::default())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<S, E> {
        Ok(S::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<S, D::Error> {
        S::deserialize(d)
    }
}

impl<'de> Deserialize<'de> for StringSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(MaybeSet::<BTreeSet<String>>(PhantomData))
            .map(StringSet)
    }
}

impl<'de, T: Ord + DeserializeOwned> Deserialize<'de> for NumberSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(MaybeSet::<BTreeSet<T>>(PhantomData))
            .map(NumberSet)
    }
}

/// Field types that hold a DynamoDB set, for [`Update::add_to_set`](crate::ops::Update::add_to_set)
/// and [`Update::remove_from_set`](crate::ops::Update::remove_from_set).
pub trait SetField: Serialize + FromIterator<Self::Element> {
    /// The element type.
    type Element;
}
impl SetField for StringSet {
    type Element = String;
}
impl<T: Ord + Serialize> SetField for NumberSet<T> {
    type Element = T;
}

/// Whether a stored value is a set with no elements, which DynamoDB refuses to store.
pub(crate) fn is_empty_set(v: &aws_sdk_dynamodb::types::AttributeValue) -> bool {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    match v {
        Av::Ss(s) => s.is_empty(),
        Av::Ns(s) => s.is_empty(),
        Av::Bs(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Doc {
        tags: StringSet,
        scores: NumberSet<i64>,
    }

    #[test]
    fn stored_as_sets_and_absent_reads_as_empty() {
        let doc = Doc {
            tags: StringSet::from_iter(["b", "a"]),
            scores: NumberSet::from_iter([3, -1]),
        };
        let item: crate::Item = serde_dynamo::to_item(&doc).unwrap();
        assert_eq!(item["tags"], Av::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(item["scores"], Av::Ns(vec!["-1".into(), "3".into()]));
        let back: Doc = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back, doc);

        let empty: Doc = serde_dynamo::from_item(crate::Item::new()).unwrap();
        assert!(empty.tags.is_empty() && empty.scores.is_empty());
        let null: Doc = serde_dynamo::from_item(crate::Item::from([
            ("tags".to_string(), Av::Null(true)),
            ("scores".to_string(), Av::Null(true)),
        ]))
        .unwrap();
        assert!(null.tags.is_empty() && null.scores.is_empty());
    }

    #[test]
    fn empty_sets_are_recognised() {
        let empty = Doc {
            tags: StringSet::new(),
            scores: NumberSet::new(),
        };
        let item: crate::Item = serde_dynamo::to_item(&empty).unwrap();
        assert!(item.values().all(is_empty_set));
        assert!(!is_empty_set(&Av::Ss(vec!["x".into()])));
        assert!(!is_empty_set(&Av::L(vec![])));
    }
}
