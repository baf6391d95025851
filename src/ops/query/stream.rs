//! Walking every item of a query as a stream, one page in memory at a time.

use futures_core::Stream;
use futures_util::{stream, StreamExt, TryStreamExt};

use super::Query;
use crate::error::Error;
use crate::key::KeyScope;
use crate::model::Model;

impl<'a, M: Model, S: 'a, O: Send + 'a> Query<'a, M, S, O> {
    /// Every item of the query, page by page. Only the current page is held in memory, so a
    /// partition of any size can be walked; `try_collect` gathers it when that is wanted.
    ///
    /// The tenant is resolved when the first page is read and kept for the whole walk.
    pub fn stream(self) -> impl Stream<Item = Result<O, Error>> + Send + 'a {
        let state = (self, None::<KeyScope>, false);
        stream::try_unfold(state, |(mut query, scope, done)| async move {
            if done {
                return Ok::<_, Error>(None);
            }
            let scope = match scope {
                Some(scope) => scope,
                None => query.db.scope_for::<M>().await?,
            };
            let (items, cursor) = query.page_in(&scope).await?.into_parts();
            let done = cursor.is_none();
            query.cursor = cursor;
            let page = stream::iter(items.into_iter().map(Ok::<O, Error>));
            Ok(Some((page, (query, Some(scope), done))))
        })
        .try_flatten()
        .boxed()
    }
}
