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
    AttributeValue, Delete as TxDelete, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::put::AsTransaction;
use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::StoredKey;
use crate::key::{KeyScope, PK_ATTR};
use crate::model::{InvalidKey, Key};
use crate::model::{Model, Schema};
use crate::request_scope::{self, Written};
use crate::write::outcome::{non_empty, settle_condition, settle_other, Effect, Expect, Settled};
use crate::write::transaction::{
    self, build_err, owner_key, rendered_as_transaction, single_error, Failure, Part, RenderedOp,
    WriteOp,
};
use crate::write::unique;

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
            return Err(rendered_as_transaction::<M>());
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
            return single_delete(self, &scope).await;
        }
        let key = owner_key(M::SCHEMA, &rendered.key)?;
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
                request_scope::record_write(self.db, &scope, &key, || Written::Deleted);
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
                    request_scope::record_write(self.db, &scope, &key, || Written::Unknown);
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

/// A typed delete.
pub(crate) struct DeleteOp<'a, M: Model>(pub(crate) Delete<'a, M>);

impl<'a, M: Model> WriteOp for DeleteOp<'a, M> {
    fn schema(&self) -> &'static Schema {
        M::SCHEMA
    }

    fn db(&self) -> &Db {
        self.0.db
    }

    fn key(&self, scope: &KeyScope) -> Result<StoredKey, Error> {
        Ok(self.0.key.clone()?.stored(scope))
    }

    fn needs_read(&self) -> bool {
        // An idempotent delete reads the item it returns.
        !M::UNIQUES.is_empty() || self.0.tx.always()
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let Rendered {
            key: key_item,
            mut conditions,
            mut p,
        } = self.0.render(scope)?;
        let key = owner_key(M::SCHEMA, &key_item)?;
        let mut moves = Vec::new();
        let guard = match stored {
            Some(read) => {
                let read = read.as_ref();
                // The unique values being released, and the version: a delete returns the item
                // as read, so nothing of it may change in between.
                let mut attrs: Vec<&'static str> =
                    M::UNIQUES.iter().map(|u| u.field.attr).collect();
                attrs.extend(M::SCHEMA.version.map(|v| v.attr));
                let guard = unique::guard(&mut p, &mut conditions, read, &attrs);
                for (u, old) in M::UNIQUES.iter().zip(unique::values::<M>(read)?) {
                    moves.extend(unique::moves(
                        self.0.db,
                        scope,
                        M::SCHEMA.prefix,
                        u,
                        &key,
                        old.as_ref(),
                        None,
                    )?);
                }
                Some(guard)
            }
            None => None,
        };
        let (names, values) = p.into_maps();
        let tx = TxDelete::builder()
            .table_name(self.0.db.table())
            .set_key(Some(key_item))
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| build_err(M::SCHEMA, e))?;
        let mut items = vec![(TransactWriteItem::builder().delete(tx).build(), Part::Owner)];
        items.extend(moves);
        Ok(RenderedOp {
            items,
            expect: Expect::Present {
                version: self.0.version,
            },
            guard,
            key,
            written: Some(Written::Deleted),
            effect: Effect {
                gone: true,
                ..Effect::default()
            },
        })
    }
}

/// A delete of a model with unique constraints.
pub(crate) async fn single_delete<M: Model>(
    delete: Delete<'_, M>,
    scope: &KeyScope,
) -> Result<M, Error> {
    let db = delete.db;
    let token = delete.tx.token().map(str::to_owned);
    let op = DeleteOp(delete);
    let reads = match transaction::run(db, &[&op as &dyn WriteOp], token.as_deref()).await {
        Ok(reads) => reads,
        Err(
            f @ Failure::Canceled {
                unknown_before: true,
                ..
            },
        ) => {
            // The item as read before the delete, to return if the lost attempt removed it.
            let reads = match &f {
                Failure::Canceled { reads, .. } => reads.clone(),
                Failure::Other(_) => Vec::new(),
            };
            transaction::single_outcome(M::SCHEMA, f)?;
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
