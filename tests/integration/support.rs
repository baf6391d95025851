//! Raw helpers for the integration tests: reading the table behind dynabao's back, so tests can
//! check what is really stored; and, in [`engines`], what the tests may rely on from the engine.

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

/// The raw items whose `_pk` starts with `[t]#`: the tenant's own data.
pub async fn tenant_items(db: &Db, t: impl std::fmt::Display) -> Vec<Item> {
    let prefix = format!("[{t}]#");
    raw_scan(db)
        .await
        .into_iter()
        .filter(|i| s(i, "_pk").is_some_and(|pk| pk.starts_with(&prefix)))
        .collect()
}

/// The raw items of the tenant registry (`_tenant`, `_thost`, `_apikey`) that name tenant `t`.
pub async fn registry_items(db: &Db, t: impl std::fmt::Display) -> Vec<Item> {
    let t = t.to_string();
    raw_scan(db)
        .await
        .into_iter()
        .filter(|i| {
            let pk = s(i, "_pk").unwrap_or_default();
            (pk.starts_with("_tenant#") && s(i, "id") == Some(t.as_str()))
                || ((pk.starts_with("_thost#") || pk.starts_with("_apikey#"))
                    && s(i, "tenant") == Some(t.as_str()))
        })
        .collect()
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

/// Where DynamoDB engines differ, and what the tests assert so that they hold on every one.
///
/// The suite runs on the embedded engine (dynoxide, in this process) by default, and on whatever
/// `DYNAMODB_ENDPOINT` names: Amazon's DynamoDB Local, LocalStack, a dynoxide server, AWS. It
/// passed on both the embedded engine and DynamoDB Local 3.3 when this table was written. No test relies on behaviour only one engine has; where the engines differ, the
/// tests assert what every engine guarantees, as strongly as DynamoDB itself does:
///
/// | behaviour | dynoxide (embedded) | DynamoDB Local | what the tests assert |
/// |---|---|---|---|
/// | `ConsistentRead` | accepted, changes nothing (every read is strongly consistent) | honoured | the request carries the flag (`to_request()`), and a consistent read sees the write before it (`crud::find_missing_is_none_and_consistent_reads_work`); never that an eventual read is stale |
/// | concurrent transactions on one item | serialised on one lock: never `TransactionConflict` | may cancel with `TransactionConflict` | the invariant afterwards (`unique::concurrent_moves_never_leave_or_lose_a_constraint` accepts `Contention` as an outcome and audits every constraint item); the conflict path itself is driven with `FaultInjector` (`retry`), identical everywhere |
/// | consumed capacity | dynoxide's own figures | DynamoDB Local's | capacity is reported and counted (`loader::capacity_is_summed_per_scope_and_consistent_finds_skip_the_cache`: at least one write unit, some read units), never exact unit counts |
/// | throttling, unprocessed batch items | never happen on their own | never happen on their own | injected with `FaultInjector` (`retry`, `batch`), so the retry paths run on every engine |
/// | table creation | `ACTIVE` at once | `ACTIVE` at once | `create_table` waits for `ACTIVE` either way (a no-op locally, real on AWS) |
///
/// Should a test ever need behaviour one engine lacks, it checks
/// [`dynabao::testkit::is_embedded`], says in a comment which engine and why, keeps its assertions
/// on the other, and gets a row here; none needs to today. The testkit's own tests of the embedded engine (`src/testkit/tests.rs`) check its lifetime and
/// skip those checks when `DYNAMODB_ENDPOINT` is set.
pub mod engines {}
