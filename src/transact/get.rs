//! TransactGetItems: up to 100 keys across models, read as one serializable snapshot.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsError, TransactGetItemsInput,
};
use aws_sdk_dynamodb::types::{Get, ReturnConsumedCapacity, TransactGetItem};

use crate::batch::dedup;
use crate::codec;
use crate::db::Db;
use crate::error::{CancelReason, Error, Item};
use crate::exec;
use crate::key::{KeyScope, StoredKey};
use crate::model::ErasedKey;
use crate::model::{Model, Schema};
use crate::write::transaction::{scopes, MAX_ITEMS};

static NEXT_READ: AtomicU64 = AtomicU64::new(1);

/// A TransactGetItems across models. Add keys with [`get`](TransactGet::get), which hands back
/// a typed [`Slot`]; await the read, then take each item from the [`TransactGetOutput`] with
/// its slot.
///
/// ```no_run
/// # use dynabao::{Db, Error, Model};
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
/// # #[bao(prefix = "u")]
/// # struct User { #[bao(pk)] id: String }
/// # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
/// # #[bao(prefix = "org")]
/// # struct Org { #[bao(pk)] id: String }
/// # async fn demo(db: &Db) -> Result<(), Error> {
/// let mut read = db.transact_get();
/// let user = read.get(User::key("u1")?);
/// let org = read.get(Org::key("o1")?);
/// let out = read.await?;
/// let (user, org): (Option<User>, Option<Org>) = (out.get(user)?, out.get(org)?);
/// # Ok(()) }
/// ```
#[must_use = "a read does nothing until it is awaited"]
pub struct TransactGet<'a> {
    db: &'a Db,
    id: u64,
    gets: Vec<(&'static Schema, ErasedKey)>,
}

/// Where one key's item will be in a [`TransactGetOutput`]; typed by the key's model.
#[derive(Debug)]
pub struct Slot<M> {
    read: u64,
    index: usize,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Slot<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Slot<M> {}

/// The items a [`TransactGet`] read, checked against the tenant; decode each with its
/// [`Slot`].
#[derive(Debug)]
pub struct TransactGetOutput {
    read: u64,
    schemas: Vec<&'static Schema>,
    scopes: Vec<KeyScope>,
    items: Vec<Option<Item>>,
}

impl Db {
    /// Starts a TransactGetItems; see [`TransactGet`].
    pub fn transact_get(&self) -> TransactGet<'_> {
        TransactGet {
            db: self,
            id: NEXT_READ.fetch_add(1, Ordering::Relaxed),
            gets: Vec::new(),
        }
    }
}

impl<'a> TransactGet<'a> {
    /// Adds the item at `key` to the read and returns where it will be.
    pub fn get<M: Model>(&mut self, key: crate::Key<M>) -> Slot<M> {
        self.gets.push((M::SCHEMA, key.erase()));
        Slot {
            read: self.id,
            index: self.gets.len() - 1,
            _model: PhantomData,
        }
    }

    /// The number of keys added.
    pub fn len(&self) -> usize {
        self.gets.len()
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.gets.is_empty()
    }

    async fn prepare(&self) -> Result<(Vec<KeyScope>, Vec<Item>, Vec<usize>), Error> {
        let schemas: Vec<_> = self.gets.iter().map(|(s, _)| *s).collect();
        let scopes = scopes(self.db, &schemas).await?;
        let keys: Vec<Item> = self
            .gets
            .iter()
            .zip(&scopes)
            .map(|((_, k), scope)| k.to_item(scope))
            .collect();
        let stored: Vec<StoredKey> = keys.iter().filter_map(StoredKey::of).collect();
        let (distinct, positions) = dedup(&stored);
        if distinct.len() > MAX_ITEMS {
            return Err(Error::TooManyItems {
                operation: "TransactGetItems",
                count: distinct.len(),
                limit: MAX_ITEMS,
            });
        }
        let mut seen = std::collections::HashSet::new();
        let distinct_keys = keys
            .into_iter()
            .zip(&stored)
            .filter(|(_, s)| seen.insert(*s))
            .map(|(k, _)| k)
            .collect();
        Ok((scopes, distinct_keys, positions))
    }

    fn request_items(&self, keys: Vec<Item>) -> Result<Vec<TransactGetItem>, Error> {
        keys.into_iter()
            .map(|k| {
                let get = Get::builder()
                    .table_name(self.db.table())
                    .set_key(Some(k))
                    .build()
                    .map_err(|e| Error::invalid_request("transaction", e.to_string()))?;
                Ok(TransactGetItem::builder().get(get).build())
            })
            .collect()
    }

    /// The request this read would send, without sending it (a key given twice is read once).
    pub async fn to_request(&self) -> Result<TransactGetItemsInput, Error> {
        let (_, keys, _) = self.prepare().await?;
        TransactGetItemsInput::builder()
            .set_transact_items(Some(self.request_items(keys)?))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .build()
            .map_err(|e| Error::invalid_request("transaction", e.to_string()))
    }

    /// Sends the read. A transaction cancelled by conflicting writes is retried under the
    /// handle's retry policy; after that it is [`Error::TransactionCanceled`].
    pub async fn send(self) -> Result<TransactGetOutput, Error> {
        let schemas: Vec<&'static Schema> = self.gets.iter().map(|(s, _)| *s).collect();
        if self.gets.is_empty() {
            return Ok(TransactGetOutput {
                read: self.id,
                schemas,
                scopes: Vec::new(),
                items: Vec::new(),
            });
        }
        let (scopes, keys, positions) = self.prepare().await?;
        let fluent = self
            .db
            .client()
            .transact_get_items()
            .set_transact_items(Some(self.request_items(keys)?))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let model = match schemas.first() {
            Some(s) if schemas.iter().all(|x| std::ptr::eq(*x, *s)) => s.name,
            _ => "transaction",
        };
        let span_scope = scopes.first().cloned().unwrap_or(KeyScope::Global);
        let policy = self.db.retry_policy();
        let mut attempt = 1;
        let out = loop {
            let result = exec::send(self.db, "TransactGetItems", model, &span_scope, || {
                fluent.clone().send()
            })
            .await;
            match result {
                Ok(out) => break out,
                Err(err) => match err.into_service_error() {
                    TransactGetItemsError::TransactionCanceledException(e) => {
                        let raw = e.cancellation_reasons.unwrap_or_default();
                        let reasons: Vec<CancelReason> = positions
                            .iter()
                            .enumerate()
                            .map(|(position, d)| {
                                let r = raw.get(*d);
                                CancelReason {
                                    position,
                                    model: schemas.get(position).map_or("transaction", |s| s.name),
                                    constraint: None,
                                    claim: false,
                                    prefix: schemas.get(position).map_or("", |s| s.prefix),
                                    key_prefix: None,
                                    code: r.and_then(|r| r.code().map(str::to_owned)),
                                    message: r.and_then(|r| r.message().map(str::to_owned)),
                                    item: None,
                                }
                            })
                            .collect();
                        let transient = reasons.iter().any(CancelReason::is_failure)
                            && reasons
                                .iter()
                                .filter(|r| r.is_failure())
                                .all(|r| r.is_conflict() || r.is_throttled());
                        if transient && policy.may_retry(attempt) {
                            tokio::time::sleep(policy.delay(attempt)).await;
                            attempt += 1;
                            continue;
                        }
                        return Err(Error::TransactionCanceled { reasons });
                    }
                    other => return Err(Error::dynamo("TransactGetItems", other)),
                },
            }
        };
        let responses = out.responses.unwrap_or_default();
        let mut items = Vec::with_capacity(positions.len());
        for (position, d) in positions.iter().enumerate() {
            let item = responses
                .get(*d)
                .and_then(|r| r.item().cloned())
                .filter(|i| !i.is_empty());
            if let (Some(item), Some(scope), Some(schema)) =
                (&item, scopes.get(position), schemas.get(position))
            {
                crate::model::check_item_scope_schema(scope, schema, item)?;
            }
            items.push(item);
        }
        Ok(TransactGetOutput {
            read: self.id,
            schemas,
            scopes,
            items,
        })
    }
}

impl<'a> IntoFuture for TransactGet<'a> {
    type Output = Result<TransactGetOutput, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl TransactGetOutput {
    /// The item at `slot`, decoded (`None`: no such item). A slot of another read is
    /// [`Error::InvalidRequest`].
    pub fn get<M: Model>(&self, slot: Slot<M>) -> Result<Option<M>, Error> {
        let wrong =
            || Error::invalid_request(M::SCHEMA.name, "this slot belongs to another TransactGet");
        if slot.read != self.read {
            return Err(wrong());
        }
        let schema = self.schemas.get(slot.index).ok_or_else(wrong)?;
        if !std::ptr::eq(*schema, M::SCHEMA) {
            return Err(wrong());
        }
        match (self.items.get(slot.index), self.scopes.get(slot.index)) {
            (Some(Some(item)), Some(scope)) => {
                codec::decode_checked::<M>(scope, item.clone()).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The number of keys read.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no key was read.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
