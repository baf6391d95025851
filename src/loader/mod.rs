//! The request-scoped loader: `find`s merged into BatchGetItem calls, and a per-scope cache that
//! every write through dynabao keeps fresh.
//!
//! Wrap the handling of one request (or one job step) in [`Loader::scope`]. Inside it:
//!
//! - every `find` (`M::find(..).await`) waits a short window (2 ms by default,
//!   [`Loader::with_window`](crate::Loader::with_window)) for other finds, and all finds of the window go out together as
//!   BatchGetItem calls of at most 100 keys each. A key asked for several times is fetched once,
//!   also while its first read is still in flight. Loading N distinct items costs
//!   `ceil(N / 100)` requests when they are asked for together (`join_all`, `try_join!`, a
//!   GraphQL resolver fan-out).
//! - Results are cached for the rest of the scope: a second `find` of a key is answered without
//!   a request, missing items included.
//! - Every write made through dynabao inside the scope updates the cache with what it stored
//!   (put, create, replace, update: the item as written; delete: known missing) or, when it
//!   cannot know (a transaction's update, a write that failed in an unknown way), evicts the key
//!   so the next `find` reads it again, strongly consistently. A read in flight while a write to
//!   its key completes does not overwrite the write's result. This is the fix for DynamoBao's
//!   stale-cache bug.
//! - The cache is keyed by table, tenant and key: [`TenantContext::with_tenant`] inside a scope
//!   never sees another tenant's cached items (and each cached item is checked against the
//!   current tenant again when it is decoded).
//! - Consumed capacity of every request made inside the scope (finds, writes, queries, batches,
//!   transactions) is summed: [`Loader::capacity`].
//!
//! Unprocessed keys are resent with backoff under the handle's
//! [`RetryPolicy`](crate::RetryPolicy); a key still unprocessed after that fails its `find`s with
//! [`Error::BatchIncomplete`] naming that key (at position 0: the
//! loader's batches have no positions of their own). An error that stops a whole batch reaches
//! every `find` waiting on it: each gets its own clone of the error, the variant itself.
//!
//! The cache only knows about writes made through dynabao inside the scope: another process
//! (or code outside the scope) writing meanwhile is not seen until the scope ends. Keep scopes
//! short, one request each, which is what they are for. Strongly consistent finds
//! (`.consistent()`) are batched with each other but never answered from the cache.
//!
//! ```no_run
//! # use std::future::IntoFuture;
//! # use dynabao::{Db, Error, Loader, Model};
//! # #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Model)]
//! # #[bao(prefix = "u")]
//! # struct User { #[bao(pk)] id: String, name: String }
//! # async fn demo(db: &Db) -> Result<(), Error> {
//! let (a, b) = Loader::scope(async {
//!     // One BatchGetItem for both.
//!     let (a, b) = tokio::try_join!(User::find(db, "a").into_future(), User::find(db, "b").into_future())?;
//!     // No request: cached.
//!     let again = User::find(db, "a").await?;
//!     let used = Loader::current().map(|l| l.capacity().read_units);
//!     Ok::<_, Error>((a, b))
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! [`TenantContext::with_tenant`]: crate::TenantContext::with_tenant

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

pub use crate::exec::Capacity;
pub use crate::request_scope::{Loader, LoaderStats};

use crate::batch::{get_raw, DEFAULT_CONCURRENCY, GET_CHUNK};
use crate::db::Db;
use crate::error::{Error, Item, Unprocessed, UnprocessedRequest, UnprocessedState};
use crate::key::{KeyScope, StoredKey};
use crate::model::Schema;
use crate::request_scope::{lock, CacheKey, Entry, Group, GroupKey, Outcome};
use crate::tenant::InCurrentTenant;

impl Loader {
    /// Loads the item of `schema`'s model at `key` in `scope` through the scope: from the
    /// cache, by joining a read of the same key, or in the next batch of that model.
    pub(crate) async fn load(
        &self,
        db: &Db,
        scope: &KeyScope,
        schema: &'static Schema,
        key: StoredKey,
        consistent: bool,
    ) -> Result<Option<Item>, Error> {
        let model = schema.name;
        let ck = CacheKey {
            db: db.id(),
            scope: scope.clone(),
            key: key.clone(),
        };
        self.shared.finds.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let dispatch_now = {
            let mut state = lock(&self.shared.state);
            let entry = state.cache.get(&ck);
            let dirty = entry.is_some_and(|e| e.dirty);
            if !consistent {
                if let Some(Entry {
                    value: Some(value), ..
                }) = entry
                {
                    self.shared.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(value.clone());
                }
            }
            let consistent = consistent || dirty;
            if let Some(waiters) = state.inflight.get_mut(&(ck.clone(), consistent)) {
                waiters.push(tx);
                self.shared.joined.fetch_add(1, Ordering::Relaxed);
                None
            } else {
                let gk = GroupKey {
                    db: db.id(),
                    scope: scope.clone(),
                    prefix: schema.prefix,
                    consistent,
                };
                let next_id = state.next_group;
                let group = state.pending.entry(gk.clone()).or_insert_with(|| Group {
                    id: next_id,
                    db: db.clone(),
                    model,
                    keys: Vec::new(),
                    waiters: HashMap::new(),
                });
                let is_new = group.id == next_id && group.keys.is_empty();
                let waiters = group.waiters.entry(key.clone()).or_default();
                if waiters.is_empty() {
                    group.keys.push(key);
                } else {
                    self.shared.joined.fetch_add(1, Ordering::Relaxed);
                }
                waiters.push(tx);
                let full = group.keys.len() >= GET_CHUNK;
                let id = group.id;
                if is_new {
                    state.next_group += 1;
                }
                if full {
                    state.pending.remove(&gk).map(|g| (gk, g))
                } else {
                    if is_new {
                        self.schedule(gk, id);
                    }
                    None
                }
            }
        };
        if let Some((gk, group)) = dispatch_now {
            self.spawn_dispatch(gk, group);
        }
        match rx.await {
            Ok(Ok(item)) => Ok(item),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::invalid_request(
                model,
                "the loader's batch was dropped before it answered (runtime shutting down)",
            )),
        }
    }

    /// Sends group `id` of `gk` once the window has passed (unless it filled up and went first).
    fn schedule(&self, gk: GroupKey, id: u64) {
        let this = self.clone();
        let window = self.window;
        let task = async move {
            if window.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(window).await;
            }
            let group = {
                let mut state = lock(&this.shared.state);
                match state.pending.get(&gk) {
                    Some(g) if g.id == id => state.pending.remove(&gk),
                    _ => None,
                }
            };
            if let Some(group) = group {
                this.dispatch(gk, group).await;
            }
        };
        spawn_or_run(self.run(task).in_current_tenant());
    }

    fn spawn_dispatch(&self, gk: GroupKey, group: Group) {
        let this = self.clone();
        spawn_or_run(
            self.run(async move { this.dispatch(gk, group).await })
                .in_current_tenant(),
        );
    }

    /// Sends one group's keys and answers every waiter.
    async fn dispatch(&self, gk: GroupKey, group: Group) {
        let Group {
            db,
            model,
            keys,
            mut waiters,
            ..
        } = group;
        let epoch = {
            let mut state = lock(&self.shared.state);
            for k in &keys {
                let w = waiters.remove(k).unwrap_or_default();
                state
                    .inflight
                    .entry((gk.cache_key(k.clone()), gk.consistent))
                    .or_default()
                    .extend(w);
            }
            state.epoch
        };
        self.shared
            .keys_loaded
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        let raw = get_raw(
            &db,
            &gk.scope,
            model,
            keys.clone(),
            gk.consistent,
            DEFAULT_CONCURRENCY,
        )
        .await;
        let unprocessed: HashSet<usize> = raw.unprocessed.iter().copied().collect();
        let mut found = raw.found;
        let mut state = lock(&self.shared.state);
        for (i, key) in keys.into_iter().enumerate() {
            let ck = gk.cache_key(key);
            let waiting = state
                .inflight
                .remove(&(ck.clone(), gk.consistent))
                .unwrap_or_default();
            let outcome: Outcome = if unprocessed.contains(&i) {
                match &raw.error {
                    Some(e) => Err(e.clone()),
                    None => Err(Error::BatchIncomplete {
                        operation: "BatchGetItem",
                        unprocessed: vec![Unprocessed {
                            position: 0,
                            model,
                            request: UnprocessedRequest::Get {
                                key: ck.key.to_item(),
                            },
                            state: UnprocessedState::ReturnedUnprocessed,
                        }],
                        source: None,
                    }),
                }
            } else {
                let item = found.get_mut(i).and_then(Option::take);
                // Cache it unless a write to the key completed after the batch was sent: the
                // batch may have read the item before that write.
                let entry = state.cache.entry(ck).or_default();
                if entry.last_write <= epoch {
                    entry.value = Some(item.clone());
                    entry.dirty = false;
                }
                Ok(item)
            };
            for w in waiting {
                let _ = w.send(outcome.clone());
            }
        }
    }
}

/// Spawns `fut` on the tokio runtime; outside one, there is nothing to spawn on, and the
/// future is dropped after logging (finds then fail with an error rather than hang).
fn spawn_or_run<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(fut);
        }
        Err(_) => {
            tracing::error!("dynabao: a Loader scope needs a tokio runtime to send its batches");
        }
    }
}
