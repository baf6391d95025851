//! Raw helpers for the integration tests: reading the table behind dynabao's back, so tests can
//! check what is really stored.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use dynabao::{Db, Item};

/// Every item of the table, through a raw (paginated, consistent) Scan.
pub async fn raw_scan(db: &Db) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let out = db
            .client()
            .scan()
            .table_name(db.table())
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("raw scan");
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

/// The item stored under exactly (`_pk`, `_sk`), through a raw consistent GetItem.
pub async fn raw_get(db: &Db, pk: &str, sk: &str) -> Option<Item> {
    let out = db
        .client()
        .get_item()
        .table_name(db.table())
        .key("_pk", AttributeValue::S(pk.to_owned()))
        .key("_sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get");
    out.item.filter(|i| !i.is_empty())
}

/// Writes an item as is, through a raw PutItem.
pub async fn raw_put(db: &Db, item: Item) {
    db.client()
        .put_item()
        .table_name(db.table())
        .set_item(Some(item))
        .send()
        .await
        .expect("raw put");
}

/// The string attribute `attr` of `item`.
pub fn s<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

/// A string attribute value.
pub fn av_s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute value.
pub fn av_n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The names of the attributes dynabao writes for keys, sorted.
pub fn key_attrs(item: &Item) -> Vec<String> {
    let mut attrs: Vec<String> = item
        .keys()
        .filter(|k| dynabao::key::is_key_attr(k))
        .cloned()
        .collect();
    attrs.sort();
    attrs
}

/// A map from `&str` pairs, for comparing expression attribute names.
pub fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A map of attribute values, for comparing keys and expression values.
pub fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// How a timestamp is written into a key (fixed width, nanoseconds, `Z`), computed here
/// independently of the key builder.
pub fn ts_key(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}
