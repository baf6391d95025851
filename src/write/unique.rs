//! The items that keep unique constraints, and the conditions that make moving them race-safe.

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::transaction::{Guard, Part};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::expr::Placeholders;
use crate::key::{KeyScope, KeyValue, StoredKey, OWNER_PK_ATTR, OWNER_SK_ATTR, PK_ATTR, SK_ATTR};
use crate::model::{Model, UniqueSchema};

/// The encoded value of each unique constraint of `M` in `item` (`None`: claims nothing).
pub(crate) fn values<M: Model>(item: Option<&Item>) -> Result<Vec<Option<KeyValue>>, Error> {
    M::UNIQUES
        .iter()
        .map(|u| match item {
            Some(item) => crate::model::unique_value::<M>(u.field, |a| item.get(a)),
            None => Ok(None),
        })
        .collect()
}

/// The encoded value of constraint `u` for a field value in its serde form.
pub(crate) fn value_of<M: Model>(
    u: &'static UniqueSchema,
    value: Option<&AttributeValue>,
) -> Result<Option<KeyValue>, Error> {
    crate::model::unique_value::<M>(u.field, |a| if a == u.field.attr { value } else { None })
}

/// The items that move constraint `u` of the owner at `owner` from `old` to `new`: a release
/// of the old value and a claim of the new one, nothing when they are equal.
///
/// A claim succeeds when the constraint item is absent or already the owner's; a release when
/// it is the owner's or absent (a model whose constraint was added after its items were
/// written). Either fails when another item holds the value, which cancels the transaction.
pub(crate) fn moves(
    db: &Db,
    scope: &KeyScope,
    prefix: &str,
    u: &'static UniqueSchema,
    owner: &StoredKey,
    old: Option<&KeyValue>,
    new: Option<&KeyValue>,
) -> Result<Vec<(TransactWriteItem, Part)>, Error> {
    let mut out = Vec::new();
    if old == new {
        return Ok(out);
    }
    if let Some(old) = old {
        let (pk, sk) = scope.unique_key(prefix, u.name, old);
        let (condition, names, values) = owned_or_absent(owner);
        let delete = Delete::builder()
            .table_name(db.table())
            .key(PK_ATTR, AttributeValue::S(pk))
            .key(SK_ATTR, AttributeValue::S(sk))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| Error::invalid_request("unique constraint", e.to_string()))?;
        out.push((
            TransactWriteItem::builder().delete(delete).build(),
            Part::Release(u.name),
        ));
    }
    if let Some(new) = new {
        let (pk, sk) = scope.unique_key(prefix, u.name, new);
        let (condition, names, values) = owned_or_absent(owner);
        let put = Put::builder()
            .table_name(db.table())
            .item(PK_ATTR, AttributeValue::S(pk))
            .item(SK_ATTR, AttributeValue::S(sk))
            .item(OWNER_PK_ATTR, AttributeValue::S(owner.pk.clone()))
            .item(OWNER_SK_ATTR, AttributeValue::S(owner.sk.clone()))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| Error::invalid_request("unique constraint", e.to_string()))?;
        out.push((
            TransactWriteItem::builder().put(put).build(),
            Part::Claim(u.name),
        ));
    }
    Ok(out)
}

type Maps = (
    String,
    Option<std::collections::HashMap<String, String>>,
    Option<std::collections::HashMap<String, AttributeValue>>,
);

/// `attribute_not_exists(_pk) OR (_owner_pk = owner AND _owner_sk = owner)`.
fn owned_or_absent(owner: &StoredKey) -> Maps {
    let mut p = Placeholders::new();
    let pk = p.name(PK_ATTR);
    let opk = p.name(OWNER_PK_ATTR);
    let osk = p.name(OWNER_SK_ATTR);
    let vpk = p.value(AttributeValue::S(owner.pk.clone()));
    let vsk = p.value(AttributeValue::S(owner.sk.clone()));
    let condition = format!("attribute_not_exists({pk}) OR ({opk} = {vpk} AND {osk} = {vsk})");
    let (names, values) = p.into_maps();
    (condition, names, values)
}

/// Adds to `conditions` what the owner's write assumes about the item as read (`read`):
/// existence, and the stored value of each attribute in `attrs`. Returns the guard that tells a
/// failed condition caused by a concurrent write from any other failure.
pub(crate) fn guard(
    p: &mut Placeholders,
    conditions: &mut Vec<String>,
    read: Option<&Item>,
    attrs: &[&'static str],
) -> Guard {
    let pk = p.name(PK_ATTR);
    let Some(item) = read else {
        conditions.push(format!("attribute_not_exists({pk})"));
        return Guard {
            exists: false,
            attrs: Vec::new(),
        };
    };
    conditions.push(format!("attribute_exists({pk})"));
    let mut guard = Guard {
        exists: true,
        attrs: Vec::with_capacity(attrs.len()),
    };
    for attr in attrs {
        let name = p.name(attr);
        let value = item
            .get(*attr)
            .filter(|v| !matches!(v, AttributeValue::Null(true)))
            .cloned();
        match &value {
            None => conditions.push(format!(
                "(attribute_not_exists({name}) OR attribute_type({name}, {}))",
                p.value(AttributeValue::S("NULL".into()))
            )),
            Some(v) => conditions.push(format!("{name} = {}", p.value(v.clone()))),
        }
        guard.attrs.push((attr, value));
    }
    guard
}
