//! A stored primary key, `(_pk, _sk)` as strings: the one form a key takes once it has been
//! built, wherever it travels (the loader's cache and batches, batch engines, transactions).

use aws_sdk_dynamodb::types::AttributeValue;

use super::{PK_ATTR, SK_ATTR};
use crate::error::Item;

/// The stored `_pk` and `_sk` of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StoredKey {
    pub(crate) pk: String,
    pub(crate) sk: String,
}

impl StoredKey {
    /// The key of an item or key map, when both attributes are strings.
    pub(crate) fn of(item: &Item) -> Option<StoredKey> {
        match (item.get(PK_ATTR), item.get(SK_ATTR)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(StoredKey {
                pk: pk.clone(),
                sk: sk.clone(),
            }),
            _ => None,
        }
    }

    /// The key as a DynamoDB `Key` map.
    pub(crate) fn to_item(&self) -> Item {
        Item::from([
            (PK_ATTR.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK_ATTR.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

impl std::fmt::Display for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(_pk {:?}, _sk {:?})", self.pk, self.sk)
    }
}
