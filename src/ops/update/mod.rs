//! Changing fields of one item in place (UpdateItem), without reading it first.
//!
//! Index key halves whose fields change are recomputed from the values given. Existence and the
//! version are checked by the write's own condition, and the version is bumped in the same write.
//!
//! Counters and sets change atomically on the server: [`add`](Update::add) and
//! [`subtract`](Update::subtract) on number fields, [`add_to_set`](Update::add_to_set) and
//! [`remove_from_set`](Update::remove_from_set) on [`StringSet`](crate::StringSet) and
//! [`NumberSet`](crate::NumberSet) fields, so concurrent updates never lose each other's changes.
//!
//! An update that sets or removes a field with a unique constraint also moves the constraint:
//! it is sent as a transaction after a consistent read of the item (see
//! [`transact`](crate::transact#unique-constraints)). Other updates of such models stay a single
//! UpdateItem.

use std::collections::{HashMap, HashSet};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemInput};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use chrono::Utc;
use serde::Serialize;

use super::put::AsTransaction;
use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::{Condition, Placeholders};
use crate::key::{KeyScope, PK_ATTR};
use crate::model::{Field, FieldSchema, Model};
use crate::model::{InvalidKey, Key};
use crate::request_scope::{self, Written};
use crate::set::{is_empty_set, SetField};
use crate::write::outcome::{
    non_empty, settle_condition, settle_other, Effect, Expect, Settled, IDEMPOTENCY_ATTR,
};
use crate::write::transaction::{owner_key, rendered_as_transaction};

mod as_transaction;

use as_transaction::single_update;
pub(crate) use as_transaction::UpdateOp;

/// Number types a field can be atomically added to.
pub trait Numeric: Serialize + Copy {}
macro_rules! numeric {
    ($($t:ty),*) => {$( impl Numeric for $t {} )*};
}
numeric!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

#[derive(Clone)]
enum Change {
    Set(Result<AttributeValue, String>),
    Remove,
    Add(Result<AttributeValue, String>),
    AddToSet(Result<AttributeValue, String>),
    DeleteFromSet(Result<AttributeValue, String>),
}

/// An UpdateItem by primary key. Await it for the item as stored after the update.
///
/// A missing item is [`Error::NotFound`]; with [`if_version`](Update::if_version), a stale
/// version is [`Error::VersionConflict`].
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "an update does nothing until it is awaited"]
pub struct Update<'a, M: Model> {
    pub(crate) db: &'a Db,
    pub(crate) key: Result<Key<M>, InvalidKey>,
    changes: Vec<(&'static FieldSchema, Change)>,
    pub(crate) version: Option<u64>,
    condition: Option<Condition<M>>,
    idempotency_key: Option<String>,
    pub(crate) tx: AsTransaction,
}

/// An update's parts, before they become a request or a transaction item.
pub(crate) struct Rendered {
    /// The item's stored key.
    pub(crate) key: Item,
    /// The update expression.
    pub(crate) expression: String,
    /// Condition clauses, joined with `AND`.
    pub(crate) conditions: Vec<String>,
    /// The placeholders of both expressions.
    pub(crate) p: Placeholders,
    /// What the update leaves stored, to recognise it after a lost answer.
    pub(crate) effect: Effect,
}

impl<'a, M: Model> Update<'a, M> {
    /// An update of the item at `key` (usually built by the generated `M::update`).
    pub fn new(db: &'a Db, key: Result<Key<M>, InvalidKey>) -> Self {
        Update {
            db,
            key,
            changes: Vec::new(),
            version: None,
            condition: None,
            idempotency_key: None,
            tx: AsTransaction::WhenNeeded,
        }
    }

    /// Sets a field. Setting an `Option` field to `None` removes it from every index that uses it.
    /// Setting a set field to an empty set removes the attribute (DynamoDB stores no empty sets).
    pub fn set<T: Serialize>(mut self, field: Field<M, T>, value: impl Into<T>) -> Self {
        let v = serde_dynamo::to_attribute_value(value.into()).map_err(|e| e.to_string());
        self.changes.push((field.schema(), Change::Set(v)));
        self
    }

    /// Removes an optional field.
    pub fn remove<T>(mut self, field: Field<M, Option<T>>) -> Self {
        self.changes.push((field.schema(), Change::Remove));
        self
    }

    /// Atomically adds `by` (negative to subtract) to a number field. A missing attribute
    /// counts as 0.
    pub fn add<T: Numeric>(mut self, field: Field<M, T>, by: T) -> Self {
        let v = serde_dynamo::to_attribute_value(by).map_err(|e| e.to_string());
        self.changes.push((field.schema(), Change::Add(v)));
        self
    }

    /// Atomically subtracts `by` from a number field (also for unsigned fields, whose type
    /// cannot hold a negative `by`). Nothing stops the stored value from going below zero;
    /// guard an unsigned counter with a condition such as `.condition(M::FIELD.ge(by))`.
    pub fn subtract<T: Numeric>(mut self, field: Field<M, T>, by: T) -> Self {
        let v = serde_dynamo::to_attribute_value(by)
            .map_err(|e| e.to_string())
            .and_then(negate);
        self.changes.push((field.schema(), Change::Add(v)));
        self
    }

    /// Atomically adds elements to a set field (DynamoDB `ADD`); elements already present stay
    /// once. A missing attribute counts as the empty set. Adding no elements changes nothing.
    pub fn add_to_set<S: SetField>(
        mut self,
        field: Field<M, S>,
        elements: impl IntoIterator<Item = S::Element>,
    ) -> Self {
        let set: S = elements.into_iter().collect();
        let v = serde_dynamo::to_attribute_value(set).map_err(|e| e.to_string());
        self.changes.push((field.schema(), Change::AddToSet(v)));
        self
    }

    /// Atomically removes elements from a set field (DynamoDB `DELETE`); removing the last
    /// element removes the attribute, which reads back as an empty set. Removing no elements
    /// changes nothing.
    pub fn remove_from_set<S: SetField>(
        mut self,
        field: Field<M, S>,
        elements: impl IntoIterator<Item = S::Element>,
    ) -> Self {
        let set: S = elements.into_iter().collect();
        let v = serde_dynamo::to_attribute_value(set).map_err(|e| e.to_string());
        self.changes
            .push((field.schema(), Change::DeleteFromSet(v)));
        self
    }

    /// Updates only if the stored version is `version`.
    ///
    /// A retry after a lost answer that meets a stored version of `version + 1` holding this
    /// update's values reports success; see [`send`](Update::send).
    pub fn if_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    /// Records `key` on the item with the update (in the `_idem` attribute), under the
    /// condition that the item does not hold it already: an update sent again with the same
    /// key, by dynabao's retry after a lost answer or by your own retry, finds its key and
    /// reports success (with the item as stored) instead of applying again. This is what makes
    /// a counter's [`add`](Update::add) or an update without [`if_version`](Update::if_version)
    /// (which bumps the version) safe to retry. Use a fresh key per logical change, such as a
    /// ULID or the id of the message that asked for it.
    ///
    /// The item keeps only the latest key: a retry whose key another keyed update replaced in
    /// between is applied again. Puts and replaces drop the attribute, as they write the whole
    /// item. Costs one small attribute on the item; no extra request.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sends the update as a one-item TransactWriteItems with a client request token, so a
    /// retry after a lost answer is never applied twice (DynamoDB answers a repeated token with
    /// the first call's success), then reads the item back (a transaction returns no values):
    /// twice the write units, plus a consistent read. [`idempotency_key`](Update::idempotency_key)
    /// is the cheaper way for counters.
    ///
    /// It also records a fresh [idempotency key](Update::idempotency_key) (unless you gave
    /// one), so an engine that does not honour client request tokens still applies it once.
    pub fn idempotent(mut self) -> Self {
        if !self.tx.always() {
            self.tx = AsTransaction::Always;
        }
        self.idempotency_key
            .get_or_insert_with(|| ulid::Ulid::new().to_string());
        self
    }

    /// Like [`idempotent`](Update::idempotent), with your own client request token (at most
    /// 36 characters), so your own retry of the same update within 10 minutes is applied
    /// once. The token is also the update's [idempotency key](Update::idempotency_key),
    /// unless you gave one.
    pub fn client_request_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.idempotency_key.get_or_insert_with(|| token.clone());
        self.tx = AsTransaction::Token(token);
        self
    }

    /// Updates only if `condition` holds ([`Error::ConditionFailed`] otherwise).
    pub fn condition(mut self, condition: Condition<M>) -> Self {
        self.condition = Some(match self.condition.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    fn invalid(reason: impl Into<String>) -> Error {
        Error::invalid_request(M::SCHEMA.name, reason)
    }

    /// The unique constraints this update sets or removes the field of, with the field's new
    /// stored value (`None`: removed).
    pub(crate) fn unique_changes(
        &self,
    ) -> Result<Vec<(&'static crate::model::UniqueSchema, Option<AttributeValue>)>, Error> {
        let mut out = Vec::new();
        for u in M::UNIQUES {
            for (field, change) in &self.changes {
                if field.attr != u.field.attr {
                    continue;
                }
                match change {
                    Change::Set(v) => {
                        let v = v
                            .clone()
                            .map_err(|e| Self::invalid(format!("{}: {e}", field.name)))?;
                        let v = (!matches!(v, AttributeValue::Null(true))).then_some(v);
                        out.push((u, v));
                    }
                    Change::Remove => out.push((u, None)),
                    Change::Add(_) | Change::AddToSet(_) | Change::DeleteFromSet(_) => {
                        return Err(Self::invalid(format!(
                            "field {} has unique constraint {}; set it instead of adding to it",
                            field.name, u.name
                        )))
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders the update expression and conditions, with every check done before sending.
    pub(crate) fn render(&self, scope: &KeyScope) -> Result<Rendered, Error> {
        let schema = M::SCHEMA;
        let key = self.key.clone()?;
        if self.changes.is_empty() {
            return Err(Self::invalid("update changes no field"));
        }
        let mut p = Placeholders::new();
        let mut sets: Vec<String> = Vec::new();
        let mut removes: Vec<String> = Vec::new();
        let mut adds: Vec<String> = Vec::new();
        let mut deletes: Vec<String> = Vec::new();
        // The new serde values of set fields, to recompute index keys from.
        let mut new_values: HashMap<&'static str, Option<AttributeValue>> = HashMap::new();
        let mut added: HashSet<&'static str> = HashSet::new();
        let mut seen: HashSet<&'static str> = HashSet::new();
        let mut effect = Effect::default();

        for (field, change) in &self.changes {
            if !seen.insert(field.attr) {
                return Err(Self::invalid(format!(
                    "field {} is changed twice",
                    field.name
                )));
            }
            // Defence in depth: only the key builder writes reserved attributes. A `Field` is
            // made only by the derive, so this holds for every field but the model's own TTL.
            if crate::key::is_reserved_attr(field.attr)
                && !schema.ttl.is_some_and(|t| t.attr == field.attr)
            {
                return Err(Error::ReservedAttribute {
                    model: schema.name,
                    attr: field.attr.to_owned(),
                });
            }
            if schema.is_primary_key_attr(field.attr) {
                return Err(Self::invalid(format!(
                    "field {} is part of the primary key; delete and create instead",
                    field.name
                )));
            }
            if schema.version.is_some_and(|v| v.attr == field.attr) {
                return Err(Self::invalid(format!(
                    "field {} is the version, which every update bumps itself",
                    field.name
                )));
            }
            match change {
                Change::Set(v) => {
                    let v = v
                        .clone()
                        .map_err(|e| Self::invalid(format!("{}: {e}", field.name)))?;
                    let name = p.name(field.attr);
                    if is_empty_set(&v) {
                        // DynamoDB stores no empty sets: an empty set is an absent attribute.
                        new_values.insert(field.attr, None);
                        effect.attrs.push((field.attr.to_owned(), None));
                        removes.push(name);
                        continue;
                    }
                    new_values.insert(field.attr, Some(v.clone()));
                    let stored = codec::field_to_stored::<M>(field.attr, v)?;
                    effect.attrs.push((
                        field.attr.to_owned(),
                        (!matches!(stored, AttributeValue::Null(true))).then(|| stored.clone()),
                    ));
                    sets.push(format!("{name} = {}", p.value(stored)));
                }
                Change::Remove => {
                    new_values.insert(field.attr, None);
                    effect.attrs.push((field.attr.to_owned(), None));
                    removes.push(p.name(field.attr));
                }
                Change::Add(v) => {
                    let v = v
                        .clone()
                        .map_err(|e| Self::invalid(format!("{}: {e}", field.name)))?;
                    if !matches!(v, AttributeValue::N(_)) {
                        return Err(Self::invalid(format!(
                            "field {}: only numbers can be added to",
                            field.name
                        )));
                    }
                    added.insert(field.attr);
                    effect.relative = true;
                    let name = p.name(field.attr);
                    adds.push(format!("{name} {}", p.value(v)));
                }
                Change::AddToSet(v) | Change::DeleteFromSet(v) => {
                    let v = v
                        .clone()
                        .map_err(|e| Self::invalid(format!("{}: {e}", field.name)))?;
                    if !matches!(
                        v,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                    ) {
                        return Err(Self::invalid(format!(
                            "field {} is not a string or number set",
                            field.name
                        )));
                    }
                    added.insert(field.attr);
                    effect.relative = true;
                    if is_empty_set(&v) {
                        // Adding or removing nothing: no clause (DynamoDB rejects empty sets).
                        continue;
                    }
                    let name = p.name(field.attr);
                    let clause = format!("{name} {}", p.value(v));
                    if matches!(change, Change::AddToSet(_)) {
                        adds.push(clause);
                    } else {
                        deletes.push(clause);
                    }
                }
            }
        }
        // Unique fields cannot be added to (checked here too, so to_request reports it).
        self.unique_changes()?;

        if let Some(updated) = schema.updated_at {
            if !seen.contains(updated.attr) {
                let now: AttributeValue =
                    serde_dynamo::to_attribute_value(Utc::now()).map_err(|source| {
                        Error::Encode {
                            model: schema.name,
                            source: Arc::new(source),
                        }
                    })?;
                let name = p.name(updated.attr);
                effect
                    .attrs
                    .push((updated.attr.to_owned(), Some(now.clone())));
                effect.distinctive = true;
                sets.push(format!("{name} = {}", p.value(now)));
            }
        }
        if let Some(version) = schema.version {
            let name = p.name(version.attr);
            adds.push(format!("{name} {}", p.value(AttributeValue::N("1".into()))));
        }

        // Recompute every index key half that a changed field belongs to.
        for index in schema.indexes {
            for (attr, fields) in crate::model::index_halves(index) {
                if !fields.iter().any(|f| seen.contains(f.attr)) {
                    continue;
                }
                if let Some(f) = fields.iter().find(|f| added.contains(f.attr)) {
                    return Err(Self::invalid(format!(
                        "field {} is part of index {}; set it instead of adding to it",
                        f.name, index.name
                    )));
                }
                if let Some(missing) = fields.iter().find(|f| !new_values.contains_key(f.attr)) {
                    return Err(Self::invalid(format!(
                        "index {} needs field {} in this update, because its key is built from it \
                         together with the fields being changed",
                        index.name, missing.name
                    )));
                }
                let value = crate::model::half_value::<M>(fields, |a| {
                    new_values.get(a).and_then(|v| v.as_ref())
                })?;
                let name = p.name(attr);
                match value {
                    Some(v) => {
                        let stored = AttributeValue::S(scope.key(schema.prefix, &v));
                        effect.attrs.push((attr.to_owned(), Some(stored.clone())));
                        sets.push(format!("{name} = {}", p.value(stored)));
                    }
                    None => {
                        effect.attrs.push((attr.to_owned(), None));
                        removes.push(name)
                    }
                }
            }
        }

        if let Some(k) = &self.idempotency_key {
            if k.is_empty() {
                return Err(Self::invalid("the idempotency key is empty"));
            }
            let name = p.name(IDEMPOTENCY_ATTR);
            sets.push(format!(
                "{name} = {}",
                p.value(AttributeValue::S(k.clone()))
            ));
            effect.key = Some(k.clone());
        }

        let mut expression = String::new();
        for (keyword, parts) in [
            ("SET", &sets),
            ("REMOVE", &removes),
            ("ADD", &adds),
            ("DELETE", &deletes),
        ] {
            if !parts.is_empty() {
                if !expression.is_empty() {
                    expression.push(' ');
                }
                expression.push_str(keyword);
                expression.push(' ');
                expression.push_str(&parts.join(", "));
            }
        }
        if expression.is_empty() {
            return Err(Self::invalid(
                "update changes no field (the sets given were empty)",
            ));
        }

        let mut conditions = vec![format!("attribute_exists({})", p.name(PK_ATTR))];
        if let Some(v) = self.version {
            let field = schema
                .version
                .ok_or_else(|| Self::invalid("if_version on a model without #[bao(version)]"))?;
            let name = p.name(field.attr);
            conditions.push(format!(
                "{name} = {}",
                p.value(AttributeValue::N(v.to_string()))
            ));
            effect.attrs.push((
                field.attr.to_owned(),
                Some(AttributeValue::N(v.saturating_add(1).to_string())),
            ));
            effect.distinctive = true;
        }
        if let Some(k) = &self.idempotency_key {
            let name = p.name(IDEMPOTENCY_ATTR);
            let value = p.value(AttributeValue::S(k.clone()));
            conditions.push(format!(
                "(attribute_not_exists({name}) OR {name} <> {value})"
            ));
        }
        if let Some(c) = &self.condition {
            conditions.push(c.render(&mut p)?);
        }
        Ok(Rendered {
            key: key.to_item(scope),
            expression,
            conditions,
            p,
            effect,
        })
    }

    fn fluent(&self, rendered: Rendered) -> UpdateItemFluentBuilder {
        let Rendered {
            key,
            expression,
            conditions,
            p,
            effect: _,
        } = rendered;
        let (names, values) = p.into_maps();
        self.db
            .client()
            .update_item()
            .table_name(self.db.table())
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// The request this update would send, without sending it.
    ///
    /// An update that moves a unique constraint is a transaction, not an UpdateItem:
    /// [`Error::InvalidRequest`] says so; render it with
    /// [`TransactWrite::to_request`](crate::transact::TransactWrite::to_request).
    pub async fn to_request(&self) -> Result<UpdateItemInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let rendered = self.render(&scope)?;
        if self.tx.always() || !self.unique_changes()?.is_empty() {
            return Err(rendered_as_transaction::<M>());
        }
        self.fluent(rendered)
            .as_input()
            .clone()
            .build()
            .map_err(|e| Self::invalid(e.to_string()))
    }

    /// Sends the update and returns the item as stored afterwards.
    ///
    /// After an attempt whose answer was lost, a retry that meets a failed condition compares
    /// the stored item with what this update leaves: its idempotency key, or every value it
    /// sets (the fresh `updated_at` among them) and, with `if_version`, the bumped version.
    /// A match is this update's own success (`Ok` with the stored item); anything else is
    /// [`Error::OutcomeUnknown`]. A counter change without an idempotency key, an `if_version`
    /// or an `updated_at` field cannot be recognised, and is applied again by a retry when the
    /// lost attempt was applied; see [`retry`](crate::retry#what-a-retry-can-do).
    pub async fn send(self) -> Result<M, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let rendered = self.render(&scope)?;
        if self.tx.always() || !self.unique_changes()?.is_empty() {
            return single_update(self, &scope).await;
        }
        let key = owner_key(M::SCHEMA, &rendered.key)?;
        let effect = rendered.effect.clone();
        let fluent = self.fluent(rendered);
        let expect = Expect::Present {
            version: self.version,
        };
        let tracked = exec::send_tracked(self.db, "UpdateItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await;
        let unknown = tracked.outcome_unknown();
        let stored = match tracked.result {
            Ok(out) => non_empty(out.attributes),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(e) => match settle_condition(
                    "UpdateItem",
                    M::SCHEMA,
                    &scope,
                    expect,
                    non_empty(e.item),
                    &effect,
                    tracked.ambiguous_before,
                ) {
                    Settled::Applied(stored) => stored,
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
                        "UpdateItem",
                        M::SCHEMA,
                        Error::dynamo("UpdateItem", other),
                        unknown,
                    ));
                }
            },
        };
        match stored {
            Some(item) => {
                let decoded = codec::decode_written(&scope, "UpdateItem", item.clone());
                request_scope::record_write(self.db, &scope, &key, || Written::Item(item));
                decoded
            }
            None => Err(Error::MalformedItem {
                model: M::SCHEMA.name,
                reason: "UpdateItem returned no attributes".into(),
            }),
        }
    }
}

impl<'a, M: Model> IntoFuture for Update<'a, M> {
    type Output = Result<M, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Negates a serialized number (`N`): for `subtract` on unsigned fields.
fn negate(v: AttributeValue) -> Result<AttributeValue, String> {
    match v {
        AttributeValue::N(n) => Ok(AttributeValue::N(match n.strip_prefix('-') {
            Some(positive) => positive.to_owned(),
            None if n.trim_start_matches(['0', '.']).is_empty() => n,
            None => format!("-{n}"),
        })),
        _ => Err("only numbers can be subtracted".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation() {
        let n = |s: &str| AttributeValue::N(s.into());
        assert_eq!(negate(n("5")), Ok(n("-5")));
        assert_eq!(negate(n("-2.5")), Ok(n("2.5")));
        assert_eq!(negate(n("0")), Ok(n("0")));
        assert!(negate(AttributeValue::S("x".into())).is_err());
    }
}
