//! Reading every item of one partition, on the table or on an index (Query).
//!
//! The key condition always includes `begins_with(sort key, "[tenant]#prefix#")`, so only the
//! current tenant's items of this model come back, and each is checked again before decoding.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::codec;
use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec;
use crate::expr::Placeholders;
use crate::key::{InvalidKey, KeyScope, KeyValue, PK_ATTR, SK_ATTR};
use crate::model::{IndexSchema, Model};

/// A query of one partition. Await it (or call [`send`](Query::send)) for one page, or
/// [`all`](Query::all) for every item.
#[must_use = "a query does nothing until it is awaited"]
pub struct Query<'a, M: Model> {
    db: &'a Db,
    index: Option<&'static IndexSchema>,
    partition: Result<KeyValue, InvalidKey>,
    limit: Option<u32>,
    descending: bool,
    consistent: bool,
    start: Option<Item>,
    _model: std::marker::PhantomData<fn() -> M>,
}

/// One page of query results.
#[derive(Debug)]
pub struct Page<M> {
    /// The items of this page, in key order.
    pub items: Vec<M>,
    last_key: Option<Item>,
}

impl<M> Page<M> {
    /// Whether DynamoDB has more items after this page.
    pub fn has_more(&self) -> bool {
        self.last_key.is_some()
    }
}

impl<'a, M: Model> Query<'a, M> {
    /// A query of the table's partition `partition` (usually built by the generated `M::query`).
    pub fn table(db: &'a Db, partition: Result<KeyValue, InvalidKey>) -> Self {
        Self::new(db, None, partition)
    }

    /// A query of `index`'s partition `partition` (usually built by the generated
    /// `M::query_by_<index>`).
    pub fn index(
        db: &'a Db,
        index: &'static IndexSchema,
        partition: Result<KeyValue, InvalidKey>,
    ) -> Self {
        Self::new(db, Some(index), partition)
    }

    fn new(
        db: &'a Db,
        index: Option<&'static IndexSchema>,
        partition: Result<KeyValue, InvalidKey>,
    ) -> Self {
        Query {
            db,
            index,
            partition,
            limit: None,
            descending: false,
            consistent: false,
            start: None,
            _model: std::marker::PhantomData,
        }
    }

    /// Reads at most `limit` items per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Returns items in descending sort-key order.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Reads with strong consistency; DynamoDB allows it on the table only, not on an index.
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }

    fn build(&self, scope: &KeyScope) -> Result<QueryFluentBuilder, Error> {
        let schema = M::SCHEMA;
        let partition = self.partition.clone()?;
        if self.consistent && self.index.is_some() {
            return Err(Error::invalid_request(
                schema.name,
                "consistent reads are not available on a global secondary index",
            ));
        }
        let (pk_attr, sk_attr) = match self.index {
            Some(i) => (i.pk_attr, i.sk_attr),
            None => (PK_ATTR, SK_ATTR),
        };
        let mut p = Placeholders::new();
        let pk_name = p.name(pk_attr);
        let pk_value = p.value(AttributeValue::S(scope.key(schema.prefix, &partition)));
        let sk_name = p.name(sk_attr);
        let sk_value = p.value(AttributeValue::S(scope.model_prefix(schema.prefix)));
        let (names, values) = p.into_maps();
        Ok(self
            .db
            .client()
            .query()
            .table_name(self.db.table())
            .set_index_name(self.index.map(|i| i.index_name.to_owned()))
            .key_condition_expression(format!(
                "{pk_name} = {pk_value} AND begins_with({sk_name}, {sk_value})"
            ))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .set_limit(self.limit.map(|l| l.min(i32::MAX as u32) as i32))
            .scan_index_forward(!self.descending)
            .set_consistent_read(self.consistent.then_some(true))
            .set_exclusive_start_key(self.start.clone()))
    }

    /// The request this query would send, without sending it.
    pub async fn to_request(&self) -> Result<QueryInput, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.build(&scope)?
            .as_input()
            .clone()
            .build()
            .map_err(|e| Error::invalid_request(M::SCHEMA.name, e.to_string()))
    }

    async fn page(&self, scope: &KeyScope) -> Result<Page<M>, Error> {
        let fluent = self.build(scope)?;
        let out = exec::send(
            "Query",
            self.db.table(),
            M::SCHEMA.name,
            scope,
            fluent.send(),
        )
        .await
        .map_err(|e| Error::dynamo("Query", e.into_service_error()))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| codec::decode_checked(scope, item))
            .collect::<Result<Vec<M>, Error>>()?;
        Ok(Page {
            items,
            last_key: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }

    /// Sends the query and returns the first page.
    pub async fn send(self) -> Result<Page<M>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        self.page(&scope).await
    }

    /// Reads every page and returns all items.
    pub async fn all(mut self) -> Result<Vec<M>, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let mut all = Vec::new();
        loop {
            let page = self.page(&scope).await?;
            all.extend(page.items);
            match page.last_key {
                Some(k) => self.start = Some(k),
                None => return Ok(all),
            }
        }
    }
}

impl<'a, M: Model> IntoFuture for Query<'a, M> {
    type Output = Result<Page<M>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
