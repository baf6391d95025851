//! Conditions on the sort key of a query, typed by the sort key's Rust type.
//!
//! `User::query_by_status(&db, &Status::Active)` returns a query whose sort key type is the type
//! of `created_at`, so `.sk(between(a, b))` only accepts timestamps; a value of another type is a
//! compile error. Values go through the same order-preserving encoding as writes.

use crate::expr::CmpOp;
use crate::key::{KeyPart, KeyValue, KeyValueBuilder};

/// A condition on a sort key whose values are `V`. Build it with [`eq`], [`lt`], [`le`], [`gt`],
/// [`ge`], [`between`] or [`begins_with`].
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey<V> {
    /// `sk = v`
    Eq(V),
    /// `sk < v`
    Lt(V),
    /// `sk <= v`
    Le(V),
    /// `sk > v`
    Gt(V),
    /// `sk >= v`
    Ge(V),
    /// `lo <= sk <= hi` (inclusive at both ends).
    Between(V, V),
    /// The sort key starts with the encoding of `v` (meaningful for text).
    BeginsWith(V),
}

impl<V> SortKey<V> {
    /// Converts the values, for example `&str` into `String`.
    pub fn map<W>(self, f: impl Fn(V) -> W) -> SortKey<W> {
        match self {
            SortKey::Eq(v) => SortKey::Eq(f(v)),
            SortKey::Lt(v) => SortKey::Lt(f(v)),
            SortKey::Le(v) => SortKey::Le(f(v)),
            SortKey::Gt(v) => SortKey::Gt(f(v)),
            SortKey::Ge(v) => SortKey::Ge(f(v)),
            SortKey::Between(a, b) => SortKey::Between(f(a), f(b)),
            SortKey::BeginsWith(v) => SortKey::BeginsWith(f(v)),
        }
    }
}

/// `sk = v`
pub fn eq<V>(v: V) -> SortKey<V> {
    SortKey::Eq(v)
}
/// `sk < v`
pub fn lt<V>(v: V) -> SortKey<V> {
    SortKey::Lt(v)
}
/// `sk <= v`
pub fn le<V>(v: V) -> SortKey<V> {
    SortKey::Le(v)
}
/// `sk > v`
pub fn gt<V>(v: V) -> SortKey<V> {
    SortKey::Gt(v)
}
/// `sk >= v`
pub fn ge<V>(v: V) -> SortKey<V> {
    SortKey::Ge(v)
}
/// `lo <= sk <= hi`, inclusive at both ends.
pub fn between<V>(lo: V, hi: V) -> SortKey<V> {
    SortKey::Between(lo, hi)
}
/// The sort key starts with `prefix`.
pub fn begins_with<V>(prefix: V) -> SortKey<V> {
    SortKey::BeginsWith(prefix)
}

/// A sort-key condition with its values encoded (no tenant or model prefix yet).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EncodedSortKey {
    Cmp(CmpOp, KeyValue),
    Between(KeyValue, KeyValue),
    /// A prefix: the raw encoding, without the separator a finished value would need.
    BeginsWith(KeyValue),
}

fn encode_one<V: KeyPart>(v: &V) -> Result<KeyValue, String> {
    let mut b = KeyValueBuilder::new();
    b.push(v).map_err(|e| e.0)?;
    Ok(b.finish())
}

impl<V: KeyPart> SortKey<V> {
    pub(crate) fn encode(&self) -> Result<EncodedSortKey, String> {
        Ok(match self {
            SortKey::Eq(v) => EncodedSortKey::Cmp(CmpOp::Eq, encode_one(v)?),
            SortKey::Lt(v) => EncodedSortKey::Cmp(CmpOp::Lt, encode_one(v)?),
            SortKey::Le(v) => EncodedSortKey::Cmp(CmpOp::Le, encode_one(v)?),
            SortKey::Gt(v) => EncodedSortKey::Cmp(CmpOp::Gt, encode_one(v)?),
            SortKey::Ge(v) => EncodedSortKey::Cmp(CmpOp::Ge, encode_one(v)?),
            SortKey::Between(a, b) => {
                let (a, b) = (encode_one(a)?, encode_one(b)?);
                if a > b {
                    return Err("between needs lo <= hi".into());
                }
                EncodedSortKey::Between(a, b)
            }
            SortKey::BeginsWith(v) => {
                let mut b = KeyValueBuilder::new();
                b.push(v).map_err(|e| e.0)?;
                EncodedSortKey::BeginsWith(b.finish_raw())
            }
        })
    }
}

/// A sort key type for queries over a key with no sort key fields: it has no values, so no
/// sort-key condition can be written for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSortKey {}
