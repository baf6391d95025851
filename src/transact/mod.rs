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
//! The handle is given once: each operation is built from the transaction's own handle,
//! passed to the closure (`|db| M::update(db, key)`), so every item goes to the same table.
//! An operation built from another handle (another table or client) is
//! [`Error::InvalidRequest`] before anything is sent.
//!
//! ```no_run
//! # use dynabao::{Db, Error, Model};
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
//! # #[bao(prefix = "acct")]
//! # struct Account { #[bao(pk)] id: String, balance: i64 }
//! # async fn demo(db: &Db) -> Result<(), Error> {
//! let moved = db
//!     .transact_write()
//!     .update(|db| Account::update(db, "a").subtract(Account::BALANCE, 10).condition(Account::BALANCE.ge(10i64)))
//!     .update(|db| Account::update(db, "b").add(Account::BALANCE, 10))
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

mod check;
mod get;

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;

pub use get::{Slot, TransactGet, TransactGetOutput};

pub use crate::error::CancelReason;

use check::CheckOp;

use crate::db::Db;
use crate::error::Error;
use crate::expr::Condition;
use crate::model::Model;
use crate::ops::delete::DeleteOp;
use crate::ops::put::{Mode, PutOp};
use crate::ops::update::UpdateOp;
use crate::ops::{Delete, Put, Update};
use crate::write::transaction::{self, WriteOp};

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

    /// Adds a `create`, `put` or `replace` with its conditions, built from the transaction's
    /// handle: `.write(|db| M::create(db, item).condition(..))`.
    pub fn write<M: Model>(self, build: impl FnOnce(&'a Db) -> Put<'a, M>) -> Self {
        let put = build(self.db);
        let op = PutOp::prepare(put.db, put.item, put.mode, put.condition);
        self.push(op)
    }

    /// Adds a typed update built from the transaction's handle:
    /// `.update(|db| M::update(db, key).set(..))`.
    pub fn update<M: Model>(self, build: impl FnOnce(&'a Db) -> Update<'a, M>) -> Self {
        let update = build(self.db);
        self.push(UpdateOp(update))
    }

    /// Adds a delete built from the transaction's handle: `.delete(|db| M::delete(db, key))`.
    pub fn delete<M: Model>(self, build: impl FnOnce(&'a Db) -> Delete<'a, M>) -> Self {
        let delete = build(self.db);
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
        transaction::to_request(self.db, &self.op_refs(), self.token.as_deref()).await
    }

    /// Sends the transaction.
    pub async fn send(self) -> Result<(), Error> {
        match transaction::run(self.db, &self.op_refs(), self.token.as_deref()).await {
            Ok(_) => Ok(()),
            Err(transaction::Failure::Other(e)) => Err(e),
            Err(transaction::Failure::Canceled {
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
