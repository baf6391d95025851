//! Reading one item by its primary key (GetItem).
//!
//! Inside a [`Loader`](crate::Loader) scope a find is not sent on its own: it joins the scope's
//! next BatchGetItem, or is answered from the scope's cache.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

use crate::codec;
use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::key::KeyScope;
use crate::loader::Loader;
use crate::model::Model;
use crate::model::{InvalidKey, Key};

/// A GetItem by primary key. Await it for `Option<M>`.
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "a read does nothing until it is awaited"]
pub struct Find<'a, M: Model> {
    db: &'a Db,
    key: Result<Key<M>, InvalidKey>,
    pub(super) consistent: bool,
}

impl<'a, M: Model> Find<'a, M> {
    /// A read of the item at `key` (usually built by the generated `M::find`).
    pub fn new(db: &'a Db, key: Result<Key<M>, InvalidKey>) -> Self {
        Find {
            db,
            key,
            consistent: false,
        }
    }

    /// Reads with strong consistency (twice the read cost).
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    fn build(&self, scope: &KeyScope) -> Result<GetItemFluentBuilder, Error> {
        let key = self.key.clone()?;
        Ok(self
            .db
            .client()
            .get_item()
            .table_name(self.db.table())
            .set_key(Some(key.to_item(scope)))
            .consistent_read(self.consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total))
    }

    /// The request this read would send on its own, without sending it (inside a
    /// [`Loader`](crate::Loader) scope the read is batched instead).
    pub async fn to_request(&self) -> Result<GetItemInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.build(&scope)?
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the read. The item is checked against the current tenant before it is decoded.
    ///
    /// Inside a [`Loader`](crate::Loader) scope the read is merged into a BatchGetItem with
    /// the other finds of the scope, or answered from the scope's cache.
    pub async fn send(self) -> Result<Option<M>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        if let Some(loader) = Loader::current() {
            let key = self.key.clone()?;
            return match loader
                .load(
                    self.db,
                    &scope,
                    M::SCHEMA,
                    key.stored(&scope),
                    self.consistent,
                )
                .await?
            {
                Some(item) => codec::decode_checked(&scope, item).map(Some),
                None => Ok(None),
            };
        }
        let fluent = self.build(&scope)?;
        let out = exec::send(self.db, "GetItem", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await
        .map_err(|e| Error::dynamo("GetItem", e.into_service_error()))?;
        match out.item {
            Some(item) if !item.is_empty() => codec::decode_checked(&scope, item).map(Some),
            _ => Ok(None),
        }
    }
}

impl<'a, M: Model> IntoFuture for Find<'a, M> {
    type Output = Result<Option<M>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
