//! Transactions across models, and the unique constraints they keep.
//!
//! # Writes
//!
//! [`Db::transact_write`] builds a TransactWriteItems of typed operations on any models: create,
//! put, replace, [`update`](TransactWrite::update) (the same typed [`Update`] as
//! `M::update`), [`delete`](TransactWrite::delete), and [`check`](TransactWrite::check) (a
//! condition on an item the transaction does not write). All or nothing: either every
//! operation is applied, or none is.
//!
//! ```no_run
//! # use dynabao::{Db, Error, Model};
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
//! # #[bao(prefix = "acct")]
//! # struct Account { #[bao(pk)] id: String, balance: i64 }
//! # async fn demo(db: &Db) -> Result<(), Error> {
//! let moved = db
//!     .transact_write()
//!     .update(Account::update(db, "a").subtract(Account::BALANCE, 10).condition(Account::BALANCE.ge(10i64)))
//!     .update(Account::update(db, "b").add(Account::BALANCE, 10))
//!     .await;
//! if let Err(e) = moved {
//!     // Which condition failed: the reasons are per item, by position and model.
//!     if let Some(reasons) = e.transaction_reasons() {
//!         let failed: Vec<usize> = reasons.iter().filter(|r| r.is_condition_failed()).map(|r| r.position).collect();
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! - At most 100 items, counting the unique-constraint items the operations add;
//!   more is [`Error::TooManyItems`] before anything is sent. Two operations on one item are
//!   [`Error::InvalidRequest`] (DynamoDB refuses them).
//! - A cancelled transaction is [`Error::TransactionCanceled`], with one [`CancelReason`] per
//!   item sent: its operation's position (in the order added), its model, the unique
//!   constraint when the item is a constraint item, DynamoDB's code and message, and the stored
//!   item when a condition failed. [`Error::is_condition_failed`],
//!   [`Error::unique_violation`] and [`Error::transaction_reasons`] look inside.
//! - Every transaction is sent with a client request token, so a transaction whose answer was
//!   lost in a retried request is applied once. Give your own with
//!   [`client_request_token`](TransactWrite::client_request_token) to make your own retries of
//!   the same transaction idempotent (DynamoDB keeps a token for 10 minutes).
//! - A transaction cancelled only by conflicts with other transactions or by throttling is
//!   re-sent under the handle's [`RetryPolicy`](crate::RetryPolicy), with a new token (unless
//!   you gave one).
//!
//! [`Db::transact_get`] reads up to 100 keys across models as one snapshot; see
//! [`TransactGet`].
//!
//! # Unique constraints
//!
//! `#[bao(unique(name = "by_email", field = "email"))]` makes `email` unique per tenant (the
//! same value in two tenants is fine) and generates `find_by_<name>` (a leading `by_` of the
//! name is not doubled: `by_email` and `email` both give `User::find_by_email(db, value)`).
//! The constraint is its own item, `[t]#prefix#$unique#by_email#<value>` (see
//! [`key`](crate::key)), pointing at its owner. It is kept in the same transaction as every
//! write of the owner:
//!
//! | write | what happens to the constraint items |
//! |---|---|
//! | `create` | claimed (`attribute_not_exists`) with the owner; a taken value is [`Error::UniqueViolation`] |
//! | `put`, `replace` | the old values released, the new ones claimed |
//! | `update` that sets or removes the field | old released, new claimed; setting `None` releases |
//! | `delete` | released |
//!
//! `create` needs no read. The others change values they do not know, so they read the
//! owner first (one consistent GetItem) and condition the transaction on what they read: the
//! owner must still hold the values being released (and, for `delete`, the version read, since
//! a delete returns the item). A concurrent write in between cancels the transaction, nothing
//! is applied, and the read-then-write starts again with a fresh read, up to the retry policy's
//! attempts ([`Error::Contention`] after that). A constraint item can therefore never be left
//! behind nor go missing, whatever runs concurrently and whatever fails. A release also requires
//! the constraint item to be the owner's (or absent), a claim that it is absent (or already
//! the owner's), so one owner can never release or overwrite another's claim.
//!
//! Costs: `create` is one TransactWriteItems (2 write units per item in it); `put`, `replace`,
//! `delete` and unique-changing updates add a consistent read; an update that changes a
//! unique field reads the item again afterwards to return it (a transaction cannot return
//! values). Updates that do not touch unique fields stay a single UpdateItem. Batch writes
//! refuse models with unique constraints, and `#[bao(ttl)]` cannot be combined with them (TTL
//! deletes would leave the constraint items behind).

mod engine;
mod get;
mod ops;
mod unique;

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;

pub use get::{Slot, TransactGet, TransactGetOutput};

use engine::{single_error, WriteOp};
use ops::{CheckOp, DeleteOp, PutOp, UpdateOp};

use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::Condition;
use crate::key::{Key, KeyScope};
use crate::loader::{self, Written};
use crate::model::Model;
use crate::ops::put::Mode;
use crate::ops::{Delete, Put, Update};

/// Why one item of a cancelled transaction failed (or `None`: it did not), carried by
/// [`Error::TransactionCanceled`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CancelReason {
    /// The position of the operation the item belongs to, in the order operations were added
    /// (for [`TransactGet`], the order keys were added).
    pub position: usize,
    /// The operation's model.
    pub model: &'static str,
    /// The unique constraint, when the item is one of the constraint items the operation
    /// claims or releases; `None` for the operation's own item.
    pub constraint: Option<&'static str>,
    pub(crate) claim: bool,
    /// The operation's model prefix and the scope it wrote in, to check `item` against.
    pub(crate) prefix: &'static str,
    pub(crate) scope: Option<KeyScope>,
    /// DynamoDB's code: `None`, `ConditionalCheckFailed`, `TransactionConflict`,
    /// `ThrottlingError`, `ProvisionedThroughputExceeded`, `ItemCollectionSizeLimitExceeded`,
    /// `ValidationError`.
    pub code: Option<String>,
    /// DynamoDB's message.
    pub message: Option<String>,
    /// The stored item, when a condition failed and DynamoDB returned it.
    pub item: Option<Item>,
}

impl CancelReason {
    /// DynamoDB's code for this item.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether this item caused the cancellation (its code is not `None`).
    pub fn is_failure(&self) -> bool {
        self.code().is_some_and(|c| c != "None")
    }

    /// Whether this item's condition failed.
    pub fn is_condition_failed(&self) -> bool {
        self.code() == Some("ConditionalCheckFailed")
    }

    /// Whether this item conflicted with another transaction in progress.
    pub fn is_conflict(&self) -> bool {
        self.code() == Some("TransactionConflict")
    }

    /// Whether this item was throttled.
    pub fn is_throttled(&self) -> bool {
        self.code().is_some_and(crate::exec::is_throttling_code)
    }

    /// Whether this item is a claim of a unique constraint's value (which fails when another
    /// item holds the value).
    pub fn is_unique_claim(&self) -> bool {
        self.claim
    }

    /// Decodes the stored item of a failed condition into its model.
    ///
    /// `None` for a constraint item, when DynamoDB returned no item, and when `M` is not the
    /// operation's model. The item is checked like every read: its keys must carry the
    /// operation's tenant and `M`'s prefix ([`Error::CrossTenant`] otherwise).
    pub fn current_item<M: Model>(&self) -> Option<Result<M, Error>> {
        if self.constraint.is_some() {
            return None;
        }
        let item = self.item.as_ref()?;
        // No scope recorded (a read's reason): nothing to check the item against, not decoded.
        let scope = self.scope.as_ref()?;
        codec::decode_returned::<M>(self.model, self.prefix, scope, item)
    }

    /// A one-line summary of the failures, for the error message.
    pub(crate) fn summary(reasons: &[CancelReason]) -> String {
        let failed: Vec<String> = reasons
            .iter()
            .filter(|r| r.is_failure())
            .map(|r| {
                format!(
                    "#{} {}{}: {}",
                    r.position,
                    r.model,
                    r.constraint
                        .map(|c| format!(" (unique {c})"))
                        .unwrap_or_default(),
                    r.code().unwrap_or("?")
                )
            })
            .collect();
        if failed.is_empty() {
            "no reason given".to_owned()
        } else {
            failed.join(", ")
        }
    }
}

impl Db {
    /// Starts a TransactWriteItems; see the [module docs](self).
    pub fn transact_write(&self) -> TransactWrite<'_> {
        TransactWrite {
            db: self,
            ops: Vec::new(),
            token: None,
        }
    }
}

/// A transaction of typed writes across models. Await it; `Ok` means every operation was
/// applied. See the [module docs](self).
#[must_use = "a transaction does nothing until it is awaited"]
pub struct TransactWrite<'a> {
    db: &'a Db,
    ops: Vec<Box<dyn WriteOp + 'a>>,
    token: Option<String>,
}

impl<'a> TransactWrite<'a> {
    fn push(mut self, op: impl WriteOp + 'a) -> Self {
        self.ops.push(Box::new(op));
        self
    }

    /// Creates `item` (fails if its key is taken). Managed fields (a nil auto id, timestamps,
    /// version 1) are filled now, when it is added, so set the id yourself if you need it
    /// later.
    pub fn create<M: Model>(self, item: M) -> Self {
        let op = PutOp::prepare(self.db, item, Mode::Create, None);
        self.push(op)
    }

    /// Writes `item` whatever is stored under its key (an upsert).
    pub fn put<M: Model>(self, item: M) -> Self {
        let op = PutOp::prepare(self.db, item, Mode::Upsert, None);
        self.push(op)
    }

    /// Overwrites an existing item at the version it carries (and bumps it).
    pub fn replace<M: Model>(self, item: M) -> Self {
        let op = PutOp::prepare(self.db, item, Mode::Replace, None);
        self.push(op)
    }

    /// Adds a `create`, `put` or `replace` with its conditions, as built by `M::create(..)`,
    /// `M::put(..)` or `M::replace(..)` with `.condition(..)`.
    pub fn write<M: Model>(self, put: Put<'a, M>) -> Self {
        let op = PutOp::prepare(put.db, put.item, put.mode, put.condition);
        self.push(op)
    }

    /// Adds a typed update, as built by `M::update(db, key)`.
    pub fn update<M: Model>(self, update: Update<'a, M>) -> Self {
        self.push(UpdateOp(update))
    }

    /// Adds a delete, as built by `M::delete(db, key)`.
    pub fn delete<M: Model>(self, delete: Delete<'a, M>) -> Self {
        self.push(DeleteOp(delete))
    }

    /// Adds a condition on the item at `key`, which the transaction does not write: the
    /// transaction is applied only if it holds.
    pub fn check<M: Model>(
        self,
        key: impl Into<crate::batch::KeyArg<M>>,
        condition: Condition<M>,
    ) -> Self {
        let op = CheckOp {
            db: self.db,
            key: key.into().into_inner(),
            condition,
        };
        self.push(op)
    }

    /// Sends the transaction with this client request token (at most 36 characters), so
    /// sending it again within 10 minutes does not apply it twice.
    pub fn client_request_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The number of operations added.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn op_refs(&self) -> Vec<&dyn WriteOp> {
        self.ops.iter().map(|o| &**o as &dyn WriteOp).collect()
    }

    /// The request this transaction would send now, without sending it. Operations that keep
    /// unique constraints read their item first (that read is sent), since the constraint items
    /// to release depend on it.
    pub async fn to_request(&self) -> Result<TransactWriteItemsInput, Error> {
        engine::to_request(self.db, &self.op_refs(), self.token.as_deref()).await
    }

    /// Sends the transaction.
    pub async fn send(self) -> Result<(), Error> {
        match engine::run(self.db, &self.op_refs(), self.token.as_deref()).await {
            Ok(_) => Ok(()),
            Err(engine::Failure::Other(e)) => Err(e),
            Err(engine::Failure::Canceled {
                reasons,
                unknown_before,
                ..
            }) => {
                let err = Error::TransactionCanceled { reasons };
                // After an attempt whose answer was lost, the cancellation may be that
                // attempt's own effect.
                Err(if unknown_before {
                    Error::outcome_unknown("TransactWriteItems", "transaction", err)
                } else {
                    err
                })
            }
        }
    }
}

impl<'a> IntoFuture for TransactWrite<'a> {
    type Output = Result<(), Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The error `to_request` gives for a single write that goes as a transaction.
pub(crate) fn rendered_as_transaction<M: Model>() -> Error {
    Error::invalid_request(
        M::SCHEMA.name,
        "this write keeps unique constraints and is sent as a TransactWriteItems; render it with \
         db.transact_write()...to_request()",
    )
}

/// `create`, `put` or `replace` of a model with unique constraints (`item` is prepared).
pub(crate) async fn single_put<M: Model>(
    db: &Db,
    mode: Mode,
    expect: crate::ops::common::Expect,
    condition: Option<Condition<M>>,
    item: M,
    token: Option<&str>,
) -> Result<M, Error> {
    let op = PutOp {
        db,
        item,
        mode,
        expect,
        condition,
    };
    match engine::run(db, &[&op as &dyn WriteOp], token).await {
        Ok(_) => Ok(op.item),
        Err(f) => engine::single_outcome(M::SCHEMA, f).map(|_| op.item),
    }
}

/// An update of a model with unique constraints that sets or removes a unique field.
pub(crate) async fn single_update<M: Model>(
    update: Update<'_, M>,
    scope: &KeyScope,
) -> Result<M, Error> {
    let db = update.db;
    let key = update.key.clone()?;
    let token = update.tx.token().map(str::to_owned);
    let op = UpdateOp(update);
    if let Err(f) = engine::run(db, &[&op as &dyn WriteOp], token.as_deref()).await {
        engine::single_outcome(M::SCHEMA, f)?;
    }
    // A transaction returns nothing: read the item as stored now.
    read_back(db, scope, key).await
}

/// A delete of a model with unique constraints.
pub(crate) async fn single_delete<M: Model>(
    delete: Delete<'_, M>,
    scope: &KeyScope,
) -> Result<M, Error> {
    let db = delete.db;
    let token = delete.tx.token().map(str::to_owned);
    let op = DeleteOp(delete);
    let reads = match engine::run(db, &[&op as &dyn WriteOp], token.as_deref()).await {
        Ok(reads) => reads,
        Err(
            f @ engine::Failure::Canceled {
                unknown_before: true,
                ..
            },
        ) => {
            // The item as read before the delete, to return if the lost attempt removed it.
            let reads = match &f {
                engine::Failure::Canceled { reads, .. } => reads.clone(),
                engine::Failure::Other(_) => Vec::new(),
            };
            engine::single_outcome(M::SCHEMA, f)?;
            reads
        }
        Err(f) => return Err(single_error(M::SCHEMA, f)),
    };
    match reads.into_iter().next().flatten().flatten() {
        Some(item) => codec::decode_written(scope, "TransactWriteItems", item),
        None => Err(Error::NotFound {
            model: M::SCHEMA.name,
        }),
    }
}

async fn read_back<M: Model>(db: &Db, scope: &KeyScope, key: Key<M>) -> Result<M, Error> {
    let key_item = key.to_item(scope);
    let fluent = db
        .client()
        .get_item()
        .table_name(db.table())
        .set_key(Some(key_item.clone()))
        .consistent_read(true)
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
    let out = exec::send(db, "GetItem", M::SCHEMA.name, scope, || {
        fluent.clone().send()
    })
    .await
    .map_err(|e| Error::dynamo("GetItem", e.into_service_error()))?;
    match crate::ops::common::non_empty(out.item) {
        Some(item) => {
            let decoded = codec::decode_written::<M>(scope, "TransactWriteItems", item.clone());
            if let Some(k) = crate::batch::key_of(&key_item) {
                loader::record_write(db, scope, &k, || Written::Item(item));
            }
            decoded
        }
        // Deleted by someone else right after the update.
        None => Err(Error::NotFound {
            model: M::SCHEMA.name,
        }),
    }
}
