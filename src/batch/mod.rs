//! Many items in few requests, with nothing lost ([invariant 7](crate#invariants)).
//!
//! - [`Db::batch_find`]: reads keys of one model with BatchGetItem, 100 keys per request,
//!   duplicate keys merged, results in the order asked with `None` for missing items.
//! - [`Db::batch_write`]: puts and deletes across models with BatchWriteItem, 25 per request.
//!
//! Chunks run with bounded concurrency ([`concurrency`](BatchFind::concurrency), 4 by default),
//! each spawned in the caller's tenant and [`Loader`](crate::Loader) scope. Items DynamoDB returns
//! as unprocessed are resent with exponential backoff and full jitter under the handle's
//! [`RetryPolicy`](crate::RetryPolicy); whatever is still unprocessed when the budget is spent is
//! returned in [`Error::BatchIncomplete`], item by item, with its position in the batch. Throttled
//! and failed requests are retried as every request is (see [`retry`](crate::retry)).
//!
//! Everything a batch can reject is checked before the first request: invalid key values, items
//! over 400 KB ([`Error::ItemTooLarge`]), two writes to one key, models with unique constraints
//! (a batch write cannot keep them; use single writes or a [transaction](crate::transact)).
//!
//! ```no_run
//! # use dynabao::{Db, Error, Model};
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
//! # #[bao(prefix = "note")]
//! # struct Note { #[bao(pk)] id: String, body: String }
//! # async fn demo(db: &Db) -> Result<(), Error> {
//! let notes: Vec<Note> = (0..300)
//!     .map(|i| Note { id: format!("n{i}"), body: "hi".into() })
//!     .collect();
//! db.batch_write().puts(notes).await?;                // 12 BatchWriteItem requests
//! let keys = ["n1", "n2", "missing", "n1"].map(|id| Note::key(id));
//! let found = db.batch_find(keys.into_iter().collect::<Result<Vec<_>, _>>()?).await?;
//! assert!(found[0].is_some() && found[2].is_none()); // in the order asked
//! # Ok(()) }
//! ```

mod engine;
pub(crate) mod fanout;

use std::collections::HashSet;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::types::{
    DeleteRequest, KeysAndAttributes, PutRequest, ReturnConsumedCapacity, WriteRequest,
};
use chrono::Utc;

pub(crate) use engine::write_raw;
use engine::{chunks, WRITE_CHUNK};
pub(crate) use engine::{dedup, get_raw, DEFAULT_CONCURRENCY, GET_CHUNK};

use crate::codec::{self, check_item_size};
use crate::db::Db;
use crate::error::{Error, Item};
pub use crate::error::{Unprocessed, UnprocessedRequest, UnprocessedState};
use crate::key::{KeyScope, StoredKey};
use crate::model::{ErasedKey, InvalidKey, Key};
use crate::model::{Model, Schema};
use crate::request_scope::{self, Written};

impl Db {
    /// Reads the items at `keys` (one model) with BatchGetItem; see the [module docs](self).
    ///
    /// Await it for `Vec<Option<M>>`, one entry per key in the order given (a key given twice
    /// is read once and answered twice). Every item is checked against the current tenant
    /// before it is decoded.
    pub fn batch_find<M: Model>(&self, keys: impl IntoIterator<Item = Key<M>>) -> BatchFind<'_, M> {
        BatchFind {
            db: self,
            keys: keys.into_iter().collect(),
            consistent: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Starts a batch of puts and deletes across models; see the [module docs](self).
    pub fn batch_write(&self) -> BatchWrite<'_> {
        BatchWrite {
            db: self,
            entries: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// A batched read of one model's items. Await it for `Vec<Option<M>>`.
#[must_use = "a read does nothing until it is awaited"]
pub struct BatchFind<'a, M: Model> {
    db: &'a Db,
    keys: Vec<Key<M>>,
    consistent: bool,
    concurrency: usize,
}

impl<'a, M: Model> BatchFind<'a, M> {
    /// Reads with strong consistency (twice the read cost).
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// How many BatchGetItem requests may be in flight at once (at least 1; default 4).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    fn distinct(&self, scope: &KeyScope) -> (Vec<StoredKey>, Vec<usize>) {
        let stored: Vec<StoredKey> = self.keys.iter().map(|k| k.stored(scope)).collect();
        dedup(&stored)
    }

    /// The BatchGetItem requests this read would send (before any resend of unprocessed
    /// keys), without sending them.
    pub async fn to_requests(&self) -> Result<Vec<BatchGetItemInput>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let (keys, _) = self.distinct(&scope);
        chunks(keys.len(), GET_CHUNK)
            .into_iter()
            .map(|r| {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(keys[r].iter().map(StoredKey::to_item).collect()))
                    .consistent_read(self.consistent)
                    .build()
                    .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))?;
                BatchGetItemInput::builder()
                    .request_items(self.db.table(), ka)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .build()
                    .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
            })
            .collect()
    }

    /// Sends the reads and returns one entry per key, in the order given.
    pub async fn send(self) -> Result<Vec<Option<M>>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, positions) = self.distinct(&scope);
        let raw = get_raw(
            self.db,
            &scope,
            M::SCHEMA.name,
            keys.clone(),
            self.consistent,
            self.concurrency,
        )
        .await;
        if let Some(error) = raw.error {
            return Err(error);
        }
        if !raw.unprocessed.is_empty() {
            let left: HashSet<usize> = raw.unprocessed.iter().copied().collect();
            let unprocessed = positions
                .iter()
                .enumerate()
                .filter(|(_, d)| left.contains(d))
                .map(|(position, d)| Unprocessed {
                    position,
                    model: M::SCHEMA.name,
                    request: UnprocessedRequest::Get {
                        key: keys[*d].to_item(),
                    },
                    state: UnprocessedState::ReturnedUnprocessed,
                })
                .collect();
            return Err(Error::BatchIncomplete {
                operation: "BatchGetItem",
                unprocessed,
                source: None,
            });
        }
        positions
            .iter()
            .map(|d| match raw.found.get(*d).cloned().flatten() {
                Some(item) => codec::decode_checked::<M>(&scope, item).map(Some),
                None => Ok(None),
            })
            .collect()
    }
}

impl<'a, M: Model> IntoFuture for BatchFind<'a, M> {
    type Output = Result<Vec<Option<M>>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Computes the key attributes of a stored item of some model.
type ItemKeysFn = fn(&KeyScope, &Item) -> Result<Vec<(&'static str, Option<String>)>, Error>;

enum Entry {
    Put {
        schema: &'static Schema,
        uniques: bool,
        item: Result<Item, Error>,
        keys: ItemKeysFn,
    },
    Delete {
        schema: &'static Schema,
        uniques: bool,
        key: Result<ErasedKey, InvalidKey>,
    },
}

impl Entry {
    fn schema(&self) -> &'static Schema {
        match self {
            Entry::Put { schema, .. } | Entry::Delete { schema, .. } => schema,
        }
    }
}

/// A batch of puts and deletes across models. Await it; see the [module docs](self).
///
/// A put is an upsert, like [`put`](crate::ops::Put::upsert): it fills a nil
/// `#[bao(auto)]` id and sets `updated_at` when it is added, and stores the version as given.
/// BatchWriteItem has no conditions, so there is no `create` or `replace` here.
#[must_use = "a batch does nothing until it is awaited"]
pub struct BatchWrite<'a> {
    db: &'a Db,
    entries: Vec<Entry>,
    concurrency: usize,
}

impl<'a> BatchWrite<'a> {
    /// Adds a put of `item`.
    pub fn put<M: Model>(mut self, mut item: M) -> Self {
        item.touch(Utc::now());
        self.entries.push(Entry::Put {
            schema: M::SCHEMA,
            uniques: !M::UNIQUES.is_empty(),
            item: codec::encode(&item),
            keys: crate::model::item_keys::<M>,
        });
        self
    }

    /// Adds a put of each item.
    pub fn puts<M: Model>(self, items: impl IntoIterator<Item = M>) -> Self {
        items.into_iter().fold(self, |b, item| b.put(item))
    }

    /// Adds a delete of the item at `key`. Deleting a missing item is not an error.
    pub fn delete<M: Model>(mut self, key: impl Into<KeyArg<M>>) -> Self {
        self.entries.push(Entry::Delete {
            schema: M::SCHEMA,
            uniques: !M::UNIQUES.is_empty(),
            key: key.into().0.map(|k| k.erase()),
        });
        self
    }

    /// Adds a delete of each key.
    pub fn deletes<M: Model>(self, keys: impl IntoIterator<Item = Key<M>>) -> Self {
        keys.into_iter().fold(self, |b, key| b.delete(key))
    }

    /// How many BatchWriteItem requests may be in flight at once (at least 1; default 4).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The number of puts and deletes added.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Resolves scopes, builds every write request and checks the whole batch.
    async fn prepare(&self) -> Result<(KeyScope, Vec<WriteRequest>), Error> {
        let mut tenant_scope: Option<KeyScope> = None;
        let mut requests = Vec::with_capacity(self.entries.len());
        let mut seen: HashSet<StoredKey> = HashSet::with_capacity(self.entries.len());
        for entry in &self.entries {
            let schema = entry.schema();
            let scope = if schema.global || self.db.tenancy() == crate::Tenancy::Off {
                KeyScope::Global
            } else {
                match &tenant_scope {
                    Some(s) => s.clone(),
                    None => {
                        let s = self.db.scope_for_schema(schema).await?;
                        tenant_scope = Some(s.clone());
                        s
                    }
                }
            };
            let request = match entry {
                Entry::Put {
                    schema,
                    uniques,
                    item,
                    keys,
                } => {
                    refuse_uniques(schema, *uniques)?;
                    let mut stored = match item {
                        Ok(i) => i.clone(),
                        Err(e) => return Err(codec::encode_error_again(schema.name, e)),
                    };
                    let keys = keys(&scope, &stored)?;
                    codec::set_keys(&mut stored, keys);
                    check_item_size(schema.name, &stored)?;
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(stored))
                                .build()
                                .map_err(|e| Error::invalid_request(schema.name, e.to_string()))?,
                        )
                        .build()
                }
                Entry::Delete {
                    schema,
                    uniques,
                    key,
                } => {
                    refuse_uniques(schema, *uniques)?;
                    let key = key.clone()?;
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key.to_item(&scope)))
                                .build()
                                .map_err(|e| Error::invalid_request(schema.name, e.to_string()))?,
                        )
                        .build()
                }
            };
            if let Some(k) = engine::write_key(&request) {
                if !seen.insert(k.clone()) {
                    return Err(Error::invalid_request(
                        schema.name,
                        format!(
                            "the batch writes the item at {k} twice; DynamoDB takes one \
                             write per item in a batch"
                        ),
                    ));
                }
            }
            requests.push(request);
        }
        Ok((tenant_scope.unwrap_or(KeyScope::Global), requests))
    }

    /// The BatchWriteItem requests this batch would send (before any resend of unprocessed
    /// items), without sending them. Every check of [`send`](BatchWrite::send) is made.
    pub async fn to_requests(&self) -> Result<Vec<BatchWriteItemInput>, Error> {
        let (_, requests) = self.prepare().await?;
        chunks(requests.len(), WRITE_CHUNK)
            .into_iter()
            .map(|r| {
                BatchWriteItemInput::builder()
                    .request_items(self.db.table(), requests[r].to_vec())
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .build()
                    .map_err(|e| Error::invalid_request("batch", e.to_string()))
            })
            .collect()
    }

    /// Sends the batch. `Ok` means every put and delete was applied.
    pub async fn send(mut self) -> Result<(), Error> {
        // An item that cannot be encoded fails the batch with its own error, before anything
        // is sent.
        for entry in &mut self.entries {
            if let Entry::Put { item, .. } = entry {
                if item.is_err() {
                    return std::mem::replace(item, Ok(Item::new())).map(|_| ());
                }
            }
        }
        let (scope, requests) = self.prepare().await?;
        if requests.is_empty() {
            return Ok(());
        }
        let model = match self.entries.first().map(Entry::schema) {
            Some(s) if self.entries.iter().all(|e| std::ptr::eq(e.schema(), s)) => s.name,
            _ => "batch",
        };
        let raw = write_raw(self.db, &scope, model, requests.clone(), self.concurrency).await;
        let left: HashSet<usize> = raw.unprocessed.iter().copied().collect();
        let unknown: HashSet<usize> = raw.unknown.iter().copied().collect();
        let stopped = raw.error.is_some();
        // Tell the loader what the table now holds, item by item.
        if request_scope::Loader::current().is_some() {
            for (i, w) in requests.iter().enumerate() {
                let Some(key) = engine::write_key(w) else {
                    continue;
                };
                let entry_scope = match self.entries.get(i).map(Entry::schema) {
                    Some(s) if s.global || self.db.tenancy() == crate::Tenancy::Off => {
                        KeyScope::Global
                    }
                    _ => scope.clone(),
                };
                request_scope::record_write(self.db, &entry_scope, &key, || {
                    if left.contains(&i) {
                        Written::Unknown
                    } else if let Some(p) = w.put_request() {
                        Written::Item(p.item().clone())
                    } else {
                        Written::Deleted
                    }
                });
            }
        }
        if raw.unprocessed.is_empty() && raw.error.is_none() {
            return Ok(());
        }
        let unprocessed = raw
            .unprocessed
            .iter()
            .filter_map(|&i| {
                let w = requests.get(i)?;
                let model = self.entries.get(i)?.schema().name;
                let request = match (w.put_request(), w.delete_request()) {
                    (Some(p), _) => UnprocessedRequest::Put {
                        item: p.item().clone(),
                    },
                    (_, Some(d)) => UnprocessedRequest::Delete {
                        key: d.key().clone(),
                    },
                    _ => return None,
                };
                let state = if unknown.contains(&i) {
                    UnprocessedState::OutcomeUnknown
                } else if stopped {
                    UnprocessedState::NotApplied
                } else {
                    UnprocessedState::ReturnedUnprocessed
                };
                Some(Unprocessed {
                    position: i,
                    model,
                    request,
                    state,
                })
            })
            .collect();
        Err(Error::BatchIncomplete {
            operation: "BatchWriteItem",
            unprocessed,
            source: raw.error.map(Box::new),
        })
    }
}

impl<'a> IntoFuture for BatchWrite<'a> {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A key argument: a [`Key`], or the `Result` the generated `M::key` returns (an invalid key
/// value is then reported when the request is sent, before anything is sent).
pub struct KeyArg<M>(Result<Key<M>, InvalidKey>);

impl<M> KeyArg<M> {
    pub(crate) fn into_inner(self) -> Result<Key<M>, InvalidKey> {
        self.0
    }
}

impl<M> From<Key<M>> for KeyArg<M> {
    fn from(k: Key<M>) -> Self {
        KeyArg(Ok(k))
    }
}
impl<M> From<Result<Key<M>, InvalidKey>> for KeyArg<M> {
    fn from(k: Result<Key<M>, InvalidKey>) -> Self {
        KeyArg(k)
    }
}

fn refuse_uniques(schema: &Schema, uniques: bool) -> Result<(), Error> {
    if uniques {
        return Err(Error::invalid_request(
            schema.name,
            "the model has unique constraints, which a batch write cannot keep (BatchWriteItem \
             has no conditions); write it with single operations or a transaction",
        ));
    }
    Ok(())
}
