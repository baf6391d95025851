//! Deleting one item by its primary key (DeleteItem), conditional on existence.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemInput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::common::{condition_failed, non_empty, Expect};
use crate::codec;
use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{InvalidKey, Key, KeyScope, PK_ATTR};
use crate::model::Model;

/// A DeleteItem by primary key. Await it for the deleted item; a missing item is
/// [`Error::NotFound`], decided by the delete's own condition.
#[must_use = "a delete does nothing until it is awaited"]
pub struct Delete<'a, M: Model> {
    db: &'a Db,
    key: Result<Key<M>, InvalidKey>,
    version: Option<u64>,
    condition: Option<Condition<M>>,
}

impl<'a, M: Model> Delete<'a, M> {
    /// A delete of the item at `key` (usually built by the generated `M::delete`).
    pub fn new(db: &'a Db, key: Result<Key<M>, InvalidKey>) -> Self {
        Delete {
            db,
            key,
            version: None,
            condition: None,
        }
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

    fn build(&self, scope: &KeyScope) -> Result<DeleteItemFluentBuilder, Error> {
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
        let (names, values) = p.into_maps();
        Ok(self
            .db
            .client()
            .delete_item()
            .table_name(self.db.table())
            .set_key(Some(key.to_item(scope)))
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld))
    }

    /// The request this delete would send, without sending it.
    pub async fn to_request(&self) -> Result<DeleteItemInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.build(&scope)?
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the delete and returns the item as it was stored.
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let fluent = self.build(&scope)?;
        let expect = Expect::Present {
            version: self.version,
        };
        match exec::send(
            "DeleteItem",
            self.db.table(),
            M::SCHEMA.name,
            &scope,
            fluent.send(),
        )
        .await
        {
            Ok(out) => match non_empty(out.attributes) {
                Some(item) => codec::decode_checked(&scope, item),
                // The condition guarantees an item existed; no attributes means none was deleted.
                None => Err(Error::NotFound {
                    model: M::SCHEMA.name,
                }),
            },
            Err(err) => Err(match err.into_service_error() {
                DeleteItemError::ConditionalCheckFailedException(e) => {
                    condition_failed::<M>(expect, non_empty(e.item))
                }
                other => Error::dynamo("DeleteItem", other),
            }),
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
