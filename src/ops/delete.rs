//! Deleting one item by its primary key (DeleteItem), conditional on existence.
//!
//! On a model with unique constraints the delete also releases the constraint items, in one
//! transaction after a consistent read of the item (see
//! [`transact`](crate::transact#unique-constraints)).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemInput};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

use super::common::{
    non_empty, settle_condition, settle_other, stored_key, Effect, Expect, Settled,
};
use super::put::AsTransaction;
use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{InvalidKey, Key, KeyScope, PK_ATTR};
use crate::loader::{self, Written};
use crate::model::Model;
use crate::transact;

/// A DeleteItem by primary key. Await it for the deleted item; a missing item is
/// [`Error::NotFound`], decided by the delete's own condition.
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "a delete does nothing until it is awaited"]
pub struct Delete<'a, M: Model> {
    pub(crate) db: &'a Db,
    pub(crate) key: Result<Key<M>, InvalidKey>,
    pub(crate) version: Option<u64>,
    condition: Option<Condition<M>>,
    pub(crate) tx: AsTransaction,
}

/// A delete's parts, before they become a request or a transaction item.
pub(crate) struct Rendered {
    /// The item's stored key.
    pub(crate) key: Item,
    /// Condition clauses, joined with `AND`.
    pub(crate) conditions: Vec<String>,
    /// The placeholders of the conditions.
    pub(crate) p: Placeholders,
}

impl<'a, M: Model> Delete<'a, M> {
    /// A delete of the item at `key` (usually built by the generated `M::delete`).
    pub fn new(db: &'a Db, key: Result<Key<M>, InvalidKey>) -> Self {
        Delete {
            db,
            key,
            version: None,
            condition: None,
            tx: AsTransaction::WhenNeeded,
        }
    }

    /// Sends the delete as a one-item TransactWriteItems with a client request token, after a
    /// consistent read of the item (a transaction returns no values, and the delete returns
    /// the item): a retry after a lost answer then reports the delete's success instead of
    /// [`Error::OutcomeUnknown`]. Costs the read plus twice the write units of a DeleteItem.
    /// The delete is conditioned on the version read (versioned models), so it returns the
    /// item it removed.
    pub fn idempotent(mut self) -> Self {
        if !self.tx.always() {
            self.tx = AsTransaction::Always;
        }
        self
    }

    /// Like [`idempotent`](Delete::idempotent), with your own client request token (at most
    /// 36 characters), so your own retry of the same delete within 10 minutes is applied
    /// once.
    pub fn client_request_token(mut self, token: impl Into<String>) -> Self {
        self.tx = AsTransaction::Token(token.into());
        self
    }

    /// Deletes only if the stored version is `version` ([`Error::VersionConflict`] otherwise).
    pub fn if_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// Deletes only if `condition` holds ([`Error::ConditionFailed`] otherwise).
    pub fn condition(mut self, condition: Condition<M>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    /// Renders the key and the conditions.
    pub(crate) fn render(&self, scope: &KeyScope) -> Result<Rendered, Error> {
        let key = self.key.clone()?;
        let mut p = Placeholders::new();
        let mut conditions = vec![format!("attribute_exists({})", p.name(PK_ATTR))];
        if let Some(v) = self.version {
            let field = M::SCHEMA.version.ok_or_else(|| {
                Error::invalid_request(
                    M::SCHEMA.name,
                    "if_version on a model without #[bao(version)]",
                )
            })?;
            let name = p.name(field.attr);
            let value = p.value(AttributeValue::N(v.to_string()));
            conditions.push(format!("{name} = {value}"));
        }
        if let Some(c) = &self.condition {
            conditions.push(c.render(&mut p)?);
        }
        Ok(Rendered {
            key: key.to_item(scope),
            conditions,
            p,
        })
    }

    fn fluent(&self, rendered: Rendered) -> DeleteItemFluentBuilder {
        let Rendered { key, conditions, p } = rendered;
        let (names, values) = p.into_maps();
        self.db
            .client()
            .delete_item()
            .table_name(self.db.table())
            .set_key(Some(key))
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// The request this delete would send, without sending it.
    ///
    /// On a model with unique constraints the delete is a transaction, not a DeleteItem:
    /// [`Error::InvalidRequest`] says so; render it with
    /// [`TransactWrite::to_request`](crate::transact::TransactWrite::to_request).
    pub async fn to_request(&self) -> Result<DeleteItemInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let rendered = self.render(&scope)?;
        if self.tx.always() || !M::UNIQUES.is_empty() {
            return Err(transact::rendered_as_transaction::<M>());
        }
        self.fluent(rendered)
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the delete and returns the item as it was stored.
    ///
    /// A delete whose answer was lost cannot give the item back, so a retry that then finds
    /// the item gone (or at another version) reports [`Error::OutcomeUnknown`] around
    /// [`Error::NotFound`] (or [`Error::VersionConflict`]): the item is gone either way, but
    /// whether this call removed it is unknown. [`idempotent`](Delete::idempotent) deletes
    /// report success instead.
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let rendered = self.render(&scope)?;
        if self.tx.always() || !M::UNIQUES.is_empty() {
            return transact::single_delete(self, &scope).await;
        }
        let key = stored_key(&rendered.key)
            .map(|(pk, sk)| (pk.to_owned(), sk.to_owned()))
            .unwrap_or_default();
        let fluent = self.fluent(rendered);
        let expect = Expect::Present {
            version: self.version,
        };
        let tracked = exec::send_tracked(self.db, "DeleteItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await;
        let unknown = tracked.outcome_unknown();
        match tracked.result {
            Ok(out) => {
                loader::record_write(self.db, &scope, &key, || Written::Deleted);
                match non_empty(out.attributes) {
                    Some(item) => codec::decode_written(&scope, "DeleteItem", item),
                    // The condition guarantees an item existed; no attributes means none was
                    // deleted.
                    None => Err(Error::NotFound {
                        model: M::SCHEMA.name,
                    }),
                }
            }
            Err(err) => {
                let err = match err.into_service_error() {
                    DeleteItemError::ConditionalCheckFailedException(e) => match settle_condition(
                        "DeleteItem",
                        M::SCHEMA,
                        &scope,
                        expect,
                        non_empty(e.item),
                        // Nothing recognisable: a delete leaves no item to compare.
                        &Effect::default(),
                        tracked.ambiguous_before,
                    ) {
                        Settled::Failed(err) => err,
                        Settled::Applied(_) => Error::outcome_unknown(
                            "DeleteItem",
                            M::SCHEMA.name,
                            Error::NotFound {
                                model: M::SCHEMA.name,
                            },
                        ),
                    },
                    other => settle_other(
                        "DeleteItem",
                        M::SCHEMA,
                        Error::dynamo("DeleteItem", other),
                        unknown,
                    ),
                };
                if err.is_outcome_unknown() || !err.is_conditional_check_failed() {
                    loader::record_write(self.db, &scope, &key, || Written::Unknown);
                }
                Err(err)
            }
        }
    }
}

impl<'a, M: Model> IntoFuture for Delete<'a, M> {
    type Output = Result<M, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
