//! Reading an item by the value of a unique constraint (the generated `find_by_<name>`).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};

use super::find::Find;
use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::key::{KeyPart, KeyValue, KeyValueBuilder, OWNER_PK_ATTR, OWNER_SK_ATTR, PK_ATTR};
use crate::model::{InvalidKey, Key};
use crate::model::{Model, UniqueSchema};
use crate::write::outcome::non_empty;

/// Reads the item that holds a value of a unique constraint: the constraint item (one GetItem),
/// then its owner (a second GetItem, or the [`Loader`](crate::Loader)'s batch inside a scope).
/// Await it for `Option<M>`.
///
/// Both reads are checked against the current tenant. The owner is returned only if it still
/// holds the value (an owner that moved to another value between the two reads gives `None`).
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "a read does nothing until it is awaited"]
pub struct FindUnique<'a, M: Model> {
    db: &'a Db,
    constraint: Option<&'static UniqueSchema>,
    value: Result<KeyValue, InvalidKey>,
    consistent: bool,
    _model: std::marker::PhantomData<fn() -> M>,
}

impl<'a, M: Model> FindUnique<'a, M> {
    /// A lookup of `value` in constraint number `index` of `M` (generated code calls this).
    #[doc(hidden)]
    pub fn new<K: KeyPart + ?Sized>(db: &'a Db, index: usize, value: &K) -> Self {
        let constraint = M::UNIQUES.get(index);
        let field = constraint.map_or("?", |u| u.field.name);
        let mut b = KeyValueBuilder::new();
        let value = b
            .push(value)
            .map(|()| b.finish())
            .map_err(|e| InvalidKey { field, reason: e.0 });
        FindUnique {
            db,
            constraint,
            value,
            consistent: false,
            _model: std::marker::PhantomData,
        }
    }

    /// Reads with strong consistency (both reads).
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    /// Sends the reads.
    pub async fn send(self) -> Result<Option<M>, Error> {
        let constraint = self
            .constraint
            .ok_or_else(|| Error::invalid_request(M::SCHEMA.name, "no such unique constraint"))?;
        let value = self.value?;
        let scope = self.db.scope_for::<M>().await?;
        let (pk, sk) = scope.unique_key(M::SCHEMA.prefix, constraint.name, &value);
        let fluent = self
            .db
            .client()
            .get_item()
            .table_name(self.db.table())
            .key(PK_ATTR, AttributeValue::S(pk.clone()))
            .key(crate::key::SK_ATTR, AttributeValue::S(sk))
            .consistent_read(self.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        let out = exec::send(self.db, "GetItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await
        .map_err(|e| Error::dynamo("GetItem", e.into_service_error()))?;
        let Some(item) = non_empty(out.item) else {
            return Ok(None);
        };
        // The constraint item must be the one asked for, and name an owner of this tenant and
        // model (invariant 5, crate docs): anything else is never followed.
        let cross = || Error::CrossTenant {
            model: M::SCHEMA.name,
            expected: scope.model_prefix(M::SCHEMA.prefix),
        };
        if !matches!(item.get(PK_ATTR), Some(AttributeValue::S(s)) if *s == pk) {
            return Err(cross());
        }
        let (Some(AttributeValue::S(owner_pk)), Some(AttributeValue::S(owner_sk))) =
            (item.get(OWNER_PK_ATTR), item.get(OWNER_SK_ATTR))
        else {
            return Err(Error::MalformedItem {
                model: M::SCHEMA.name,
                reason: format!("unique constraint item {pk:?} names no owner"),
            });
        };
        let key = Key::<M>::from_stored(&scope, owner_pk, owner_sk).ok_or_else(cross)?;
        let mut find = Find::new(self.db, Ok(key));
        find.consistent = self.consistent;
        let owner = find.send().await?;
        // Still the holder of the value?
        match owner {
            Some(m) => {
                let encoded = crate::codec::encode(&m)?;
                let held = crate::model::unique_value::<M>(constraint.field, |a| encoded.get(a))?;
                Ok((held.as_ref() == Some(&value)).then_some(m))
            }
            None => Ok(None),
        }
    }
}

impl<'a, M: Model> IntoFuture for FindUnique<'a, M> {
    type Output = Result<Option<M>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
