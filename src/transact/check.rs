//! A condition check: a transaction item on an item the transaction does not write.

use aws_sdk_dynamodb::types::{
    ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use crate::db::Db;
use crate::error::{Error, Item};
use crate::expr::{Condition, Placeholders};
use crate::key::{KeyScope, StoredKey};
use crate::model::{InvalidKey, Key};
use crate::model::{Model, Schema};
use crate::write::outcome::{Effect, Expect};
use crate::write::transaction::{build_err, Part, RenderedOp, WriteOp};

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

    fn db(&self) -> &Db {
        self.db
    }

    fn key(&self, scope: &KeyScope) -> Result<StoredKey, Error> {
        Ok(self.key.clone()?.stored(scope))
    }

    fn needs_read(&self) -> bool {
        false
    }

    fn render(&self, scope: &KeyScope, _: Option<&Option<Item>>) -> Result<RenderedOp, Error> {
        let key = self.key(scope)?;
        let mut p = Placeholders::new();
        let condition = self.condition.render(&mut p)?;
        let (names, values) = p.into_maps();
        let tx = ConditionCheck::builder()
            .table_name(self.db.table())
            .set_key(Some(key.to_item()))
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
