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
    AttributeValue, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
};
use chrono::Utc;

use super::common::{check_item_size, condition_failed, non_empty, stored_key, Expect};
use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{KeyScope, PK_ATTR};
use crate::loader::{self, Written};
use crate::model::Model;
use crate::transact;

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
}

impl<'a, M: Model> Put<'a, M> {
    /// `create`: write `item` only if its key is free.
    pub fn create(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Create,
            condition: None,
        }
    }

    /// `put`: write `item`, replacing whatever is stored under its key.
    pub fn upsert(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Upsert,
            condition: None,
        }
    }

    /// `replace`: overwrite an existing item, checking its version.
    pub fn replace(db: &'a Db, item: M) -> Self {
        Put {
            db,
            item,
            mode: Mode::Replace,
            condition: None,
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
        if needs_transaction(self.mode, &item)? {
            return Err(transact::rendered_as_transaction::<M>());
        }
        let rendered = render(expect, self.condition.as_ref(), &scope, &item)?;
        fluent(self.db, rendered)
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the write and returns the value as stored.
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let mut item = self.item;
        let expect = prepare(self.mode, &mut item);
        if needs_transaction(self.mode, &item)? {
            return transact::single_put(self.db, self.mode, expect, self.condition, item).await;
        }
        let rendered = render(expect, self.condition.as_ref(), &scope, &item)?;
        check_item_size(M::SCHEMA.name, &rendered.stored)?;
        let key = stored_key(&rendered.stored)
            .map(|(pk, sk)| (pk.to_owned(), sk.to_owned()))
            .ok_or_else(|| Error::MalformedItem {
                model: M::SCHEMA.name,
                reason: "the encoded item has no key".into(),
            })?;
        let fluent = fluent(self.db, rendered);
        let result = exec::send(self.db, "PutItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await;
        match result {
            Ok(_) => {
                loader::record_write(self.db, &scope, &key, || {
                    Written::Item(fluent.as_input().get_item().clone().unwrap_or_default())
                });
                // A TTL is stored in whole seconds; hand back what a read will return.
                match M::SCHEMA
                    .ttl
                    .and_then(|_| fluent.as_input().get_item().clone())
                {
                    Some(stored) => codec::decode_unchecked(stored),
                    None => Ok(item),
                }
            }
            Err(err) => Err(match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => {
                    condition_failed::<M>(expect, non_empty(e.item))
                }
                other => {
                    loader::record_write(self.db, &scope, &key, || Written::Unknown);
                    Error::dynamo("PutItem", other)
                }
            }),
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
        if crate::key::unique_value::<M>(u.field, |a| encoded.get(a))?.is_some() {
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
