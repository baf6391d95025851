//! Whole-item writes (PutItem): `create`, `put` and `replace`.
//!
//! - `create` fails with [`Error::AlreadyExists`] when the key is taken, and fills the managed
//!   fields (a nil `#[bao(auto)]` id, `created_at`, `updated_at`, `version = 1`).
//! - `put` writes unconditionally (an upsert): it fills a nil auto id and sets `updated_at`; the
//!   version is stored as given.
//! - `replace` requires the item to exist and, for versioned models, to be stored at the version
//!   the value carries; it bumps the version ([`Error::NotFound`], [`Error::VersionConflict`]).
//!
//! An item over DynamoDB's 400 KB limit is [`Error::ItemTooLarge`], before anything is sent.
//!
//! On a model with unique constraints (`#[bao(unique(..))]`) the write is a TransactWriteItems
//! that also claims (and, for `put` and `replace`, moves or releases) the constraint items; see
//! [`transact`](crate::transact#unique-constraints). A `create` whose unique fields are all
//! `None` claims nothing and stays a single PutItem.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput};
use aws_sdk_dynamodb::types::{
    AttributeValue, Put as TxPut, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use chrono::Utc;

use crate::codec;
use crate::codec::check_item_size;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::StoredKey;
use crate::key::{KeyScope, PK_ATTR};
use crate::model::{Model, Schema};
use crate::request_scope::{self, Written};
use crate::write::outcome::{non_empty, settle_condition, settle_other, Effect, Expect, Settled};
use crate::write::transaction::{
    self, build_err, owner_key, rendered_as_transaction, Part, RenderedOp, WriteOp,
};
use crate::write::unique;

/// Which whole-item write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Upsert,
    Replace,
}

/// A PutItem of one model value. Await it, or call [`to_request`](Put::to_request) to see what
/// would be sent.
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "a write does nothing until it is awaited"]
pub struct Put<'a, M: Model> {
    pub(crate) db: &'a Db,
    pub(crate) item: M,
    pub(crate) mode: Mode,
    pub(crate) condition: Option<Condition<M>>,
    pub(crate) tx: AsTransaction,
}

/// Whether a single write goes as a one-item TransactWriteItems, and with whose client
/// request token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum AsTransaction {
    /// Only when it must (unique constraints).
    #[default]
    WhenNeeded,
    /// Always, with dynabao's tokens.
    Always,
    /// Always, with the caller's token.
    Token(String),
}

impl AsTransaction {
    /// Whether the write goes as a transaction.
    pub(crate) fn always(&self) -> bool {
        *self != AsTransaction::WhenNeeded
    }

    /// The caller's token, if any.
    pub(crate) fn token(&self) -> Option<&str> {
        match self {
            AsTransaction::Token(t) => Some(t),
            _ => None,
        }
    }
}

impl<'a, M: Model> Put<'a, M> {
    /// `create`: write `item` only if its key is free.
    pub fn create(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Create,
            condition: None,
            tx: AsTransaction::WhenNeeded,
        }
    }

    /// `put`: write `item`, replacing whatever is stored under its key.
    pub fn upsert(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Upsert,
            condition: None,
            tx: AsTransaction::WhenNeeded,
        }
    }

    /// `replace`: overwrite an existing item, checking its version.
    pub fn replace(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Replace,
            condition: None,
            tx: AsTransaction::WhenNeeded,
        }
    }

    /// Adds a condition on the stored item; when it fails the write is
    /// [`Error::ConditionFailed`] carrying the stored item.
    pub fn condition(mut self, condition: Condition<M>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    /// Sends the write as a one-item TransactWriteItems with a client request token, so that a
    /// retry after a lost answer is never applied twice: DynamoDB answers a repeated token
    /// with the first call's success. Costs twice the write units of a PutItem (an item of a
    /// model with unique constraints goes as a transaction anyway).
    ///
    /// Without it a `create` or `replace` is still safe to retry: a retry that meets the
    /// write's own effect reports success, and one that cannot tell reports
    /// [`Error::OutcomeUnknown`]. A plain `put` is idempotent in itself (it writes the same
    /// item again). See [`retry`](crate::retry#what-a-retry-can-do).
    pub fn idempotent(mut self) -> Self {
        if !self.tx.always() {
            self.tx = AsTransaction::Always;
        }
        self
    }

    /// Like [`idempotent`](Put::idempotent), with your own client request token (at most 36
    /// characters), so that your own retry of the same write within 10 minutes (after a crash,
    /// a redelivered message) is applied once. DynamoDB refuses the same token with a
    /// different request.
    pub fn client_request_token(mut self, token: impl Into<String>) -> Self {
        self.tx = AsTransaction::Token(token.into());
        self
    }

    /// The request this write would send, without sending it. Managed fields (ids, timestamps)
    /// are filled as they would be, so two calls may differ in those.
    ///
    /// A write that keeps unique constraints is a transaction, not a PutItem:
    /// [`Error::InvalidRequest`] says so; render it with
    /// [`TransactWrite::to_request`](crate::transact::TransactWrite::to_request).
    pub async fn to_request(&self) -> Result<PutItemInput, Error>
    where
        M: Clone,
    {
        let scope = self.db.scope_for::<M>().await?;
        let mut item = self.item.clone();
        let expect = prepare(self.mode, &mut item);
        if self.tx.always() || needs_transaction(self.mode, &item)? {
            return Err(rendered_as_transaction::<M>());
        }
        let rendered = render(expect, self.condition.as_ref(), &scope, &item)?;
        fluent(self.db, rendered)
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the write and returns the value as stored.
    ///
    /// After an attempt whose answer was lost, a retry that meets a failed condition compares
    /// the stored item DynamoDB returns with the item this write sends: the same item is this
    /// write's own success (`Ok`); anything else is [`Error::OutcomeUnknown`] around the error
    /// the condition gives. An error after such an attempt is `OutcomeUnknown` too.
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let mut item = self.item;
        let expect = prepare(self.mode, &mut item);
        if self.tx.always() || needs_transaction(self.mode, &item)? {
            return single_put(
                self.db,
                self.mode,
                expect,
                self.condition,
                item,
                self.tx.token(),
            )
            .await;
        }
        let rendered = render(expect, self.condition.as_ref(), &scope, &item)?;
        check_item_size(M::SCHEMA.name, &rendered.stored)?;
        let key = owner_key(M::SCHEMA, &rendered.stored)?;
        let effect = Effect {
            item: Some(rendered.stored.clone()),
            ..Effect::default()
        };
        let fluent = fluent(self.db, rendered);
        let tracked = exec::send_tracked(self.db, "PutItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await;
        let unknown = tracked.outcome_unknown();
        match tracked.result {
            Ok(_) => {}
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => match settle_condition(
                    "PutItem",
                    M::SCHEMA,
                    &scope,
                    expect,
                    non_empty(e.item),
                    &effect,
                    tracked.ambiguous_before,
                ) {
                    Settled::Applied(_) => {}
                    Settled::Failed(err) => {
                        if err.is_outcome_unknown() {
                            request_scope::record_write(self.db, &scope, &key, || Written::Unknown);
                        }
                        return Err(err);
                    }
                },
                other => {
                    request_scope::record_write(self.db, &scope, &key, || Written::Unknown);
                    return Err(settle_other(
                        "PutItem",
                        M::SCHEMA,
                        Error::dynamo("PutItem", other),
                        unknown,
                    ));
                }
            },
        }
        request_scope::record_write(self.db, &scope, &key, || {
            Written::Item(fluent.as_input().get_item().clone().unwrap_or_default())
        });
        // A TTL is stored in whole seconds; hand back what a read will return.
        match M::SCHEMA
            .ttl
            .and_then(|_| fluent.as_input().get_item().clone())
        {
            Some(stored) => codec::decode_checked(&scope, stored),
            None => Ok(item),
        }
    }
}

impl<'a, M: Model> IntoFuture for Put<'a, M> {
    type Output = Result<M, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<M, Error>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Fills managed fields for `mode` and says what the write expects of the stored item.
pub(crate) fn prepare<M: Model>(mode: Mode, item: &mut M) -> Expect {
    let now = Utc::now();
    match mode {
        Mode::Create => {
            item.prepare_create(now);
            Expect::Absent
        }
        Mode::Upsert => {
            item.touch(now);
            Expect::Anything
        }
        Mode::Replace => {
            let version = item.version();
            if let Some(v) = version {
                item.set_version(v.saturating_add(1));
            }
            item.touch(now);
            Expect::Present { version }
        }
    }
}

/// Whether this write must keep unique constraints, and so go as a transaction: always for
/// `put` and `replace` of a model with constraints (the stored values are unknown), and for a
/// `create` that claims at least one value.
pub(crate) fn needs_transaction<M: Model>(mode: Mode, item: &M) -> Result<bool, Error> {
    if M::UNIQUES.is_empty() {
        return Ok(false);
    }
    if mode != Mode::Create {
        return Ok(true);
    }
    let encoded = codec::encode(item)?;
    for u in M::UNIQUES {
        if crate::model::unique_value::<M>(u.field, |a| encoded.get(a))?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A PutItem's parts, before they become a request or a transaction item.
pub(crate) struct Rendered {
    /// The item with every key attribute.
    pub(crate) stored: Item,
    /// Condition clauses, joined with `AND`.
    pub(crate) conditions: Vec<String>,
    /// The placeholders of the conditions.
    pub(crate) p: Placeholders,
}

/// Encodes `item` with its keys and renders the write's conditions.
pub(crate) fn render<M: Model>(
    expect: Expect,
    condition: Option<&Condition<M>>,
    scope: &KeyScope,
    item: &M,
) -> Result<Rendered, Error> {
    let stored = codec::encode_with_keys(scope, item)?;
    let mut p = Placeholders::new();
    let mut conditions = Vec::new();
    match expect {
        Expect::Absent => conditions.push(format!("attribute_not_exists({})", p.name(PK_ATTR))),
        Expect::Present { version } => {
            conditions.push(format!("attribute_exists({})", p.name(PK_ATTR)));
            if let (Some(v), Some(field)) = (version, M::SCHEMA.version) {
                let name = p.name(field.attr);
                let value = p.value(AttributeValue::N(v.to_string()));
                conditions.push(format!("{name} = {value}"));
            }
        }
        Expect::Anything => {}
    }
    if let Some(c) = condition {
        conditions.push(c.render(&mut p)?);
    }
    Ok(Rendered {
        stored,
        conditions,
        p,
    })
}

fn fluent(db: &Db, rendered: Rendered) -> PutItemFluentBuilder {
    let Rendered {
        stored,
        conditions,
        p,
    } = rendered;
    let mut fluent = db
        .client()
        .put_item()
        .table_name(db.table())
        .set_item(Some(stored))
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    if !conditions.is_empty() {
        let (names, values) = p.into_maps();
        fluent = fluent
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    fluent
}

/// A put (create, upsert or replace) of a prepared value.
pub(crate) struct PutOp<'a, M: Model> {
    pub(crate) db: &'a Db,
    pub(crate) item: M,
    pub(crate) mode: Mode,
    pub(crate) expect: Expect,
    pub(crate) condition: Option<Condition<M>>,
}

impl<'a, M: Model> PutOp<'a, M> {
    /// Fills the managed fields now, once, so a re-sent transaction writes the same value.
    pub(crate) fn prepare(
        db: &'a Db,
        mut item: M,
        mode: Mode,
        condition: Option<Condition<M>>,
    ) -> Self {
        let expect = prepare(mode, &mut item);
        PutOp {
            db,
            item,
            mode,
            expect,
            condition,
        }
    }
}

impl<'a, M: Model> WriteOp for PutOp<'a, M> {
    fn schema(&self) -> &'static Schema {
        M::SCHEMA
    }

    fn db(&self) -> &Db {
        self.db
    }

    fn key(&self, scope: &KeyScope) -> Result<StoredKey, Error> {
        owner_key(M::SCHEMA, &codec::encode_with_keys(scope, &self.item)?)
    }

    fn needs_read(&self) -> bool {
        !M::UNIQUES.is_empty() && self.mode != Mode::Create
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let Rendered {
            stored: item,
            mut conditions,
            mut p,
        } = render(self.expect, self.condition.as_ref(), scope, &self.item)?;
        check_item_size(M::SCHEMA.name, &item)?;
        let key = owner_key(M::SCHEMA, &item)?;
        let read = stored.and_then(Option::as_ref);
        let guard = match stored {
            Some(read) => {
                let attrs: Vec<&'static str> = M::UNIQUES.iter().map(|u| u.field.attr).collect();
                Some(unique::guard(
                    &mut p,
                    &mut conditions,
                    read.as_ref(),
                    &attrs,
                ))
            }
            None => None,
        };
        let old = unique::values::<M>(read)?;
        let new = unique::values::<M>(Some(&item))?;
        let mut items = Vec::new();
        let (names, values) = p.into_maps();
        let tx = TxPut::builder()
            .table_name(self.db.table())
            .set_item(Some(item.clone()))
            .set_condition_expression((!conditions.is_empty()).then(|| conditions.join(" AND ")))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| build_err(M::SCHEMA, e))?;
        items.push((TransactWriteItem::builder().put(tx).build(), Part::Owner));
        for ((u, old), new) in M::UNIQUES.iter().zip(&old).zip(&new) {
            items.extend(unique::moves(
                self.db,
                scope,
                M::SCHEMA.prefix,
                u,
                &key,
                old.as_ref(),
                new.as_ref(),
            )?);
        }
        Ok(RenderedOp {
            items,
            expect: self.expect,
            guard,
            key,
            effect: Effect {
                item: Some(item.clone()),
                ..Effect::default()
            },
            written: Some(Written::Item(item)),
        })
    }
}

/// `create`, `put` or `replace` of a model with unique constraints (`item` is prepared).
pub(crate) async fn single_put<M: Model>(
    db: &Db,
    mode: Mode,
    expect: crate::write::outcome::Expect,
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
    match transaction::run(db, &[&op as &dyn WriteOp], token).await {
        Ok(_) => Ok(op.item),
        Err(f) => transaction::single_outcome(M::SCHEMA, f).map(|_| op.item),
    }
}
