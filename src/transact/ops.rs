//! The operations a transaction holds: typed puts, updates, deletes and condition checks, each
//! rendered with the unique-constraint items it moves.

use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete as TxDelete, Put as TxPut, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update as TxUpdate,
};

use super::engine::{Part, RenderedOp, WriteOp};
use super::unique;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::expr::{Condition, Placeholders};
use crate::key::{InvalidKey, Key, KeyScope};
use crate::loader::Written;
use crate::model::{Model, Schema};
use crate::ops::common::{check_item_size, stored_key, Effect, Expect};
use crate::ops::put::{self, Mode};
use crate::ops::{Delete, Update};

fn owner_key(schema: &Schema, item: &Item) -> Result<(String, String), Error> {
    stored_key(item)
        .map(|(pk, sk)| (pk.to_owned(), sk.to_owned()))
        .ok_or_else(|| Error::MalformedItem {
            model: schema.name,
            reason: "the item has no key".into(),
        })
}

fn build_err(schema: &Schema, e: impl std::fmt::Display) -> Error {
    Error::invalid_request(schema.name, e.to_string())
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
        let expect = put::prepare(mode, &mut item);
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

    fn key(&self, scope: &KeyScope) -> Result<Item, Error> {
        let stored = crate::codec::encode_with_keys(scope, &self.item)?;
        let (pk, sk) = owner_key(M::SCHEMA, &stored)?;
        Ok(Item::from([
            (
                crate::key::PK_ATTR.to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(pk),
            ),
            (
                crate::key::SK_ATTR.to_owned(),
                aws_sdk_dynamodb::types::AttributeValue::S(sk),
            ),
        ]))
    }

    fn needs_read(&self) -> bool {
        !M::UNIQUES.is_empty() && self.mode != Mode::Create
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let put::Rendered {
            stored: item,
            mut conditions,
            mut p,
        } = put::render(self.expect, self.condition.as_ref(), scope, &self.item)?;
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

/// A typed update.
pub(crate) struct UpdateOp<'a, M: Model>(pub(crate) Update<'a, M>);

impl<'a, M: Model> WriteOp for UpdateOp<'a, M> {
    fn schema(&self) -> &'static Schema {
        M::SCHEMA
    }

    fn key(&self, scope: &KeyScope) -> Result<Item, Error> {
        Ok(self.0.key.clone()?.to_item(scope))
    }

    fn needs_read(&self) -> bool {
        self.0.unique_changes().is_ok_and(|c| !c.is_empty())
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let crate::ops::update::Rendered {
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
                        Some(item) => crate::key::unique_value::<M>(u.field, |a| item.get(a))?,
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

/// A typed delete.
pub(crate) struct DeleteOp<'a, M: Model>(pub(crate) Delete<'a, M>);

impl<'a, M: Model> WriteOp for DeleteOp<'a, M> {
    fn schema(&self) -> &'static Schema {
        M::SCHEMA
    }

    fn key(&self, scope: &KeyScope) -> Result<Item, Error> {
        Ok(self.0.key.clone()?.to_item(scope))
    }

    fn needs_read(&self) -> bool {
        // An idempotent delete reads the item it returns.
        !M::UNIQUES.is_empty() || self.0.tx.always()
    }

    fn render(&self, scope: &KeyScope, stored: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let crate::ops::delete::Rendered {
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

/// A condition on an item the transaction does not write.
pub(crate) struct CheckOp<'a, M: Model> {
    pub(crate) db: &'a Db,
    pub(crate) key: Result<Key<M>, InvalidKey>,
    pub(crate) condition: Condition<M>,
}

impl<'a, M: Model> WriteOp for CheckOp<'a, M> {
    fn schema(&self) -> &'static Schema {
        M::SCHEMA
    }

    fn key(&self, scope: &KeyScope) -> Result<Item, Error> {
        Ok(self.key.clone()?.to_item(scope))
    }

    fn needs_read(&self) -> bool {
        false
    }

    fn render(&self, scope: &KeyScope, _: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let key_item = self.key(scope)?;
        let key = owner_key(M::SCHEMA, &key_item)?;
        let mut p = Placeholders::new();
        let condition = self.condition.render(&mut p)?;
        let (names, values) = p.into_maps();
        let tx = ConditionCheck::builder()
            .table_name(self.db.table())
            .set_key(Some(key_item))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| build_err(M::SCHEMA, e))?;
        Ok(RenderedOp {
            items: vec![(
                TransactWriteItem::builder().condition_check(tx).build(),
                Part::Owner,
            )],
            expect: Expect::Anything,
            guard: None,
            key,
            written: None,
            effect: Effect::default(),
        })
    }
}
