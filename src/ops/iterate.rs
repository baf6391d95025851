//! Reading every item of a model within the current tenant, without a table scan.
//!
//! Models opt in with `#[bao(iterable(gsi = N, buckets = B))]` (see
//! [`Iteration`](crate::model::Iteration)). Each item then also lives in one of `B` partitions of
//! a dedicated index, chosen by a hash of its partition key. Reading them all is `B` queries run
//! concurrently, each confined to the tenant's keys and checked like any query, so other
//! tenants' data is never read (nor paid for).
//!
//! Cost: one extra index write per item write (1 WCU per KB of item, as for any GSI). Reading:
//! the items' size in RCUs, spread over `B` partitions. More buckets spread a large tenant over
//! more partitions (more parallelism, more throughput); fewer make small tenants cheaper to walk
//! (fewer requests). Eight to sixteen suits most models.

use futures_core::Stream;
use futures_util::{future, stream, StreamExt, TryStreamExt};

use super::query::Query;
use crate::db::Db;
use crate::error::Error;
use crate::expr::Condition;

use crate::model::{Iteration, Model};

/// Every item of model `M` in the current tenant (generated as `M::iterate(&db)`).
///
/// It reads the tenant at its first poll, not when it is built ([more](crate::ops#when-the-tenant-is-read)).
#[must_use = "an iteration does nothing until it is consumed"]
pub struct Iterate<'a, M: Model> {
    db: &'a Db,
    filter: Option<Condition<M>>,
    page_size: Option<u32>,
}

impl<'a, M: Model> Iterate<'a, M> {
    /// Every item of `M` in the current tenant.
    pub fn new(db: &'a Db) -> Self {
        Iterate {
            db,
            filter: None,
            page_size: None,
        }
    }

    /// Keeps only items matching `condition`.
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(c) => c.and(condition),
            None => condition,
        });
        self
    }

    /// Items read per request and bucket (DynamoDB's limit of 1 MB per page applies too).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }

    fn iteration() -> Result<&'static Iteration, Error> {
        M::SCHEMA.iteration.ok_or_else(|| {
            Error::invalid_request(
                M::SCHEMA.name,
                "the model is not iterable; declare #[bao(iterable(gsi = N, buckets = B))]",
            )
        })
    }

    fn bucket_queries(&self) -> Result<Vec<Query<'a, M>>, Error> {
        let iteration = Self::iteration()?;
        Ok((0..u64::from(iteration.buckets.max(1)))
            .map(|b| {
                let mut q =
                    Query::<M>::index(self.db, &iteration.index, Ok(crate::model::bucket_value(b)));
                if let Some(f) = &self.filter {
                    q = q.filter(f.clone());
                }
                if let Some(n) = self.page_size {
                    q = q.limit(n);
                }
                q
            })
            .collect())
    }

    /// The items as a stream, buckets read concurrently, one page per bucket in memory. Items
    /// come in no particular order.
    pub fn stream(self) -> impl Stream<Item = Result<M, Error>> + Send + 'a {
        match self.bucket_queries() {
            Ok(queries) => stream::select_all(queries.into_iter().map(Query::stream)).boxed(),
            Err(e) => stream::once(future::ready(Err(e))).boxed(),
        }
    }

    /// Every item, collected.
    pub async fn all(self) -> Result<Vec<M>, Error> {
        self.stream().try_collect().await
    }

    /// How many items there are, counted bucket by bucket concurrently.
    pub async fn count(self) -> Result<u64, Error> {
        let counts =
            future::try_join_all(self.bucket_queries()?.into_iter().map(Query::count)).await?;
        Ok(counts.into_iter().sum())
    }
}
