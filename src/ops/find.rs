//! Reading one item by its primary key (GetItem).

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;

use crate::codec;
use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::key::{InvalidKey, Key, KeyScope};
use crate::model::Model;

/// A GetItem by primary key. Await it for `Option<M>`.
#[must_use = "a read does nothing until it is awaited"]
pub struct Find<'a, M: Model> {
    db: &'a Db,
    key: Result<Key<M>, InvalidKey>,
    consistent: bool,
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
    pub fn consistent(mut self, consistent: bool) -> Self {
        self.consistent = consistent;
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
            .consistent_read(self.consistent))
    }

    /// The request this read would send, without sending it.
    pub async fn to_request(&self) -> Result<GetItemInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.build(&scope)?
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    /// Sends the read. The item is checked against the current tenant before it is decoded.
    pub async fn send(self) -> Result<Option<M>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let fluent = self.build(&scope)?;
        let out = exec::send(
            "GetItem",
            self.db.table(),
            M::SCHEMA.name,
            &scope,
            fluent.send(),
        )
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
