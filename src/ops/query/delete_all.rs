//! Deleting what a query matches, page by page: [`Query::delete_page`] and
//! [`Query::delete_all`].

use futures_util::{stream, StreamExt, TryStreamExt};

use super::Query;
use crate::cursor;
use crate::error::Error;
use crate::exec;
use crate::key::KeyScope;
use crate::model::{Key, Model};
use crate::ops::Delete;

/// How many single deletes (of a model with unique constraints) run at once.
const DELETE_CONCURRENCY: usize = 8;

/// What [`Query::delete_page`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedPage {
    /// Items deleted by this page (an item someone else deleted first is not counted).
    pub deleted: u64,
    /// Where the next page starts: give it to [`Query::cursor`] (of the same query) and delete
    /// on; `None` after the last page.
    pub cursor: Option<String>,
}

impl<'a, M: Model, S, O> Query<'a, M, S, O> {
    /// Deletes the items of one page of this query (its `limit`, its filter, after its cursor),
    /// reading only their keys, and says where the next page starts.
    ///
    /// A model without unique constraints is deleted with BatchWriteItem (25 per request,
    /// unprocessed items resent, leftovers [`Error::BatchIncomplete`]); one with unique
    /// constraints item by item, each in the transaction that releases its constraint items.
    /// Nothing is lost either way, and nothing is atomic across items: for all-or-nothing over
    /// up to 100 items, delete them in one [`transact_write`](crate::Db::transact_write).
    pub async fn delete_page(&self) -> Result<DeletedPage, Error> {
        let scope = self.db.scope_for::<M>().await?;
        let (fluent, digest) = self.build(&scope, true)?;
        let out = exec::send(self.db, "Query", M::SCHEMA.name, &scope, || {
            fluent.clone().send()
        })
        .await
        .map_err(|e| Error::dynamo("Query", e.into_service_error()))?;
        let mut keys = Vec::new();
        for item in out.items.unwrap_or_default() {
            match crate::model::check_item_scope::<M>(&scope, &item) {
                Ok(()) => {}
                // Another model of the same tenant sharing the partition: not ours.
                Err(_) if crate::model::carries_tenant(&scope, &item) => continue,
                Err(e) => return Err(e),
            }
            if let Some(key) = stored_key::<M>(&scope, &item) {
                keys.push(key);
            }
        }
        let deleted = self.delete_keys(keys).await?;
        let cursor = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(k) => Some(cursor::encode(
                self.db.cursor_key(),
                &self.binding(&scope, digest),
                &k,
            )?),
            None => None,
        };
        Ok(DeletedPage { deleted, cursor })
    }

    /// Deletes every item this query matches, page after page, and says how many. An error
    /// stops it with the items of earlier pages deleted; to resume, run the same query again
    /// (deleted items no longer match), or from the [`DeletedPage::cursor`] of the last page
    /// [`delete_page`](Query::delete_page) finished.
    pub async fn delete_all(mut self) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let page = self.delete_page().await?;
            total += page.deleted;
            match page.cursor {
                Some(c) => self.cursor = Some(c),
                None => return Ok(total),
            }
        }
    }

    async fn delete_keys(&self, keys: Vec<Key<M>>) -> Result<u64, Error> {
        let n = keys.len() as u64;
        if keys.is_empty() {
            return Ok(0);
        }
        if M::UNIQUES.is_empty() {
            self.db.batch_write().deletes(keys).send().await?;
            return Ok(n);
        }
        let db = self.db;
        stream::iter(keys)
            .map(|key| async move {
                match Delete::<M>::new(db, Ok(key)).send().await {
                    Ok(_) => Ok(1),
                    Err(Error::NotFound { .. }) => Ok(0),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_fold(0u64, |sum, n| async move { Ok(sum + n) })
            .await
    }
}

/// The model key of a stored item (its `_pk` and `_sk`).
fn stored_key<M: Model>(scope: &KeyScope, item: &crate::error::Item) -> Option<Key<M>> {
    let stored = crate::key::StoredKey::of(item)?;
    Key::<M>::from_stored(scope, &stored.pk, &stored.sk)
}
