//! An update as one item of a transaction: the form `transact_write().update(..)` sends, and
//! the one a single update takes when it moves unique constraints.

use aws_sdk_dynamodb::types::{
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as TxUpdate,
};

use super::{Rendered, Update};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::key::{KeyScope, StoredKey};
use crate::model::{Model, Schema};
use crate::request_scope::Written;
use crate::write::outcome::Expect;
use crate::write::transaction::{self, build_err, owner_key, read_back, Part, RenderedOp, WriteOp};
use crate::write::unique;

/// A typed update.
pub(crate) struct UpdateOp<'a, M: Model>(pub(crate) Update<'a, M>);

impl<'a, M: Model> WriteOp for UpdateOp<'a, M> {
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
        self.0.unique_changes().is_ok_and(|c| !c.is_empty())
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let Rendered {
            key: key_item,
            expression,
            mut conditions,
            mut p,
            effect,
        } = self.0.render(scope)?;
        let key = owner_key(M::SCHEMA, &key_item)?;
        let changes = self.0.unique_changes()?;
        let mut items = Vec::new();
        let mut moves = Vec::new();
        let guard = match stored {
            Some(read) => {
                let read = read.as_ref();
                let attrs: Vec<&'static str> = changes.iter().map(|(u, _)| u.field.attr).collect();
                let guard = unique::guard(&mut p, &mut conditions, read, &attrs);
                for (u, new) in &changes {
                    let old = match read {
                        Some(item) => crate::model::unique_value::<M>(u.field, |a| item.get(a))?,
                        None => None,
                    };
                    let new = unique::value_of::<M>(u, new.as_ref())?;
                    moves.extend(unique::moves(
                        self.0.db,
                        scope,
                        M::SCHEMA.prefix,
                        u,
                        &key,
                        old.as_ref(),
                        new.as_ref(),
                    )?);
                }
                Some(guard)
            }
            None => None,
        };
        let (names, values) = p.into_maps();
        let tx = TxUpdate::builder()
            .table_name(self.0.db.table())
            .set_key(Some(key_item))
            .update_expression(expression)
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| build_err(M::SCHEMA, e))?;
        items.push((TransactWriteItem::builder().update(tx).build(), Part::Owner));
        items.extend(moves);
        Ok(RenderedOp {
            items,
            expect: Expect::Present {
                version: self.0.version,
            },
            guard,
            key,
            // A transaction cannot return the updated item.
            written: Some(Written::Unknown),
            effect,
        })
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
    if let Err(f) = transaction::run(db, &[&op as &dyn WriteOp], token.as_deref()).await {
        transaction::single_outcome(M::SCHEMA, f)?;
    }
    // A transaction returns nothing: read the item as stored now.
    read_back(db, scope, key).await
}
