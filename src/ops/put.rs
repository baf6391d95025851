//! Whole-item writes (PutItem): `create`, `put` and `replace`.
//!
//! - `create` fails with [`Error::AlreadyExists`] when the key is taken, and fills the managed
//!   fields (a nil `#[bao(auto)]` id, `created_at`, `updated_at`, `version = 1`).
//! - `put` writes unconditionally (an upsert): it fills a nil auto id and sets `updated_at`; the
//!   version is stored as given.
//! - `replace` requires the item to exist and, for versioned models, to be stored at the version
//!   the value carries; it bumps the version ([`Error::NotFound`], [`Error::VersionConflict`]).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::Utc;

use super::common::{condition_failed, non_empty, Expect};
use crate::codec;
use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{KeyScope, PK_ATTR};
use crate::model::Model;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Upsert,
    Replace,
}

/// A PutItem of one model value. Await it, or call [`to_request`](Put::to_request) to see what
/// would be sent.
#[must_use = "a write does nothing until it is awaited"]
pub struct Put<'a, M: Model> {
    db: &'a Db,
    item: M,
    mode: Mode,
    condition: Option<Condition<M>>,
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
    pub async fn to_request(&self) -> Result<PutItemInput, Error>
    where
        M: Clone,
    {
        let scope = self.db.scope_for::<M>().await?;
        let mut item = self.item.clone();
        let (fluent, _) = build(
            self.db,
            self.mode,
            self.condition.as_ref(),
            &scope,
            &mut item,
        )?;
        fluent
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the write and returns the value as stored.
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let mut item = self.item;
        let (fluent, expect) = build(
            self.db,
            self.mode,
            self.condition.as_ref(),
            &scope,
            &mut item,
        )?;
        let stored_form = M::SCHEMA.ttl.and_then(|_| fluent.get_item().clone());
        let result = exec::send(
            "PutItem",
            self.db.table(),
            M::SCHEMA.name,
            &scope,
            fluent.send(),
        )
        .await;
        match result {
            // A TTL is stored in whole seconds; hand back what a read will return.
            Ok(_) => match stored_form {
                Some(stored) => codec::decode_unchecked(stored),
                None => Ok(item),
            },
            Err(err) => Err(match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => {
                    condition_failed::<M>(expect, non_empty(e.item))
                }
                other => Error::dynamo("PutItem", other),
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

fn prepare<M: Model>(mode: Mode, item: &mut M) -> Expect {
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

fn build<M: Model>(
    db: &Db,
    mode: Mode,
    condition: Option<&Condition<M>>,
    scope: &KeyScope,
    item: &mut M,
) -> Result<(PutItemFluentBuilder, Expect), Error> {
    let expect = prepare(mode, item);
    let stored = codec::encode_with_keys(scope, item)?;
    let mut p = Placeholders::new();
    let mut conditions = Vec::new();
    match expect {
        Expect::Absent => conditions.push(format!("attribute_not_exists({})", p.name(PK_ATTR))),
        Expect::Present { version } => {
            conditions.push(format!("attribute_exists({})", p.name(PK_ATTR)));
            if let (Some(v), Some(field)) = (version, M::SCHEMA.version) {
                let name = p.name(field.attr);
                let value = p.value(aws_sdk_dynamodb::types::AttributeValue::N(v.to_string()));
                conditions.push(format!("{name} = {value}"));
            }
        }
        Expect::Anything => {}
    }
    if let Some(c) = condition {
        conditions.push(c.render(&mut p)?);
    }
    let mut fluent = db
        .client()
        .put_item()
        .table_name(db.table())
        .set_item(Some(stored));
    if !conditions.is_empty() {
        let (names, values) = p.into_maps();
        fluent = fluent
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    }
    Ok((fluent, expect))
}
