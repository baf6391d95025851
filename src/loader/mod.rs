//! The request-scoped loader: `find`s merged into BatchGetItem calls, and a per-scope cache that
//! every write through dynabao keeps fresh.
//!
//! Wrap the handling of one request (or one job step) in [`Loader::scope`]. Inside it:
//!
//! - every `find` (`M::find(..).await`) waits a short window (2 ms by default,
//!   [`Loader::with_window`]) for other finds, and all finds of the window go out together as
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
//! every `find` waiting on it, as [`Error::Shared`] when several wait.
//!
//! The cache only knows about writes made through dynabao inside the scope: another process
//! (or code outside the scope) writing meanwhile is not seen until the scope ends. Keep scopes
//! short, one request each, which is what they are for. Strongly consistent finds
//! (`.consistent(true)`) are batched with each other but never answered from the cache.
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

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::batch::{get_raw, Unprocessed, UnprocessedRequest, GET_CHUNK};
use crate::db::Db;
use crate::error::{Error, Item};
use crate::key::KeyScope;
use crate::tenant::InCurrentTenant;

tokio::task_local! {
    static LOADER: Loader;
}

/// Read and write capacity units consumed by DynamoDB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read capacity units.
    pub read_units: f64,
    /// Write capacity units.
    pub write_units: f64,
}

impl std::ops::AddAssign for Capacity {
    fn add_assign(&mut self, other: Capacity) {
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

/// Counters of one loader scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoaderStats {
    /// `find`s that went through the loader.
    pub finds: u64,
    /// Finds answered from the cache, without a request.
    pub cache_hits: u64,
    /// Finds that joined a read of the same key already waiting or in flight.
    pub joined: u64,
    /// Distinct keys sent to DynamoDB.
    pub keys_loaded: u64,
    /// Batches dispatched (each is one BatchGetItem per 100 keys, plus resends of unprocessed
    /// keys).
    pub batches: u64,
}

/// A request-scoped batching loader and cache; see the [module docs](self).
///
/// Cheap to clone: clones share one scope's cache and counters.
#[derive(Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("window", &self.shared.window)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

/// The default batching window.
const DEFAULT_WINDOW: Duration = Duration::from_millis(2);

struct Shared {
    window: Duration,
    state: Mutex<State>,
    capacity: Mutex<Capacity>,
    finds: AtomicU64,
    cache_hits: AtomicU64,
    joined: AtomicU64,
    keys_loaded: AtomicU64,
    batches: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    db: u64,
    scope: KeyScope,
    pk: String,
    sk: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    db: u64,
    scope: KeyScope,
    consistent: bool,
}

/// What the cache knows about one key.
#[derive(Default)]
struct Entry {
    /// `Some(item or None for missing)`: known; `None`: unknown (never read, or evicted).
    value: Option<Option<Item>>,
    /// The write epoch of the last write to the key, 0 if none.
    last_write: u64,
    /// A write of unknown outcome happened: read strongly consistently next time.
    dirty: bool,
}

type Outcome = Result<Option<Item>, Arc<Error>>;
type Waiter = oneshot::Sender<Outcome>;

struct Group {
    id: u64,
    db: Db,
    model: &'static str,
    keys: Vec<(String, String)>,
    waiters: HashMap<(String, String), Vec<Waiter>>,
}

#[derive(Default)]
struct State {
    cache: HashMap<CacheKey, Entry>,
    pending: HashMap<GroupKey, Group>,
    inflight: HashMap<(CacheKey, bool), Vec<Waiter>>,
    epoch: u64,
    next_group: u64,
}

/// What a write did to one item, for the cache.
pub(crate) enum Written {
    /// The item as now stored (keys included).
    Item(Item),
    /// The item is gone.
    Deleted,
    /// Unknown: evict, and read strongly consistently next time.
    Unknown,
}

impl Loader {
    /// A loader with the default window (2 ms).
    pub fn new() -> Self {
        Self::with_window(DEFAULT_WINDOW)
    }

    /// A loader that waits `window` for more finds before sending a batch. A full batch
    /// (100 keys) goes at once. `Duration::ZERO` still merges finds made in the same poll
    /// (a `join_all`), not ones made after an await.
    pub fn with_window(window: Duration) -> Self {
        Loader {
            shared: Arc::new(Shared {
                window,
                state: Mutex::new(State::default()),
                capacity: Mutex::new(Capacity::default()),
                finds: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
                joined: AtomicU64::new(0),
                keys_loaded: AtomicU64::new(0),
                batches: AtomicU64::new(0),
            }),
        }
    }

    /// Runs `fut` in a new loader scope with the default window (a tokio task-local, like the
    /// tenant: the scope does not travel into a bare `tokio::spawn`).
    pub fn scope<F: Future>(fut: F) -> impl Future<Output = F::Output> {
        Loader::new().run(fut)
    }

    /// Runs `fut` in this loader's scope. Keep a clone to read [`capacity`](Loader::capacity)
    /// and [`stats`](Loader::stats) afterwards.
    pub fn run<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        LOADER.scope(self.clone(), fut)
    }

    /// The loader of the running scope, if any.
    pub fn current() -> Option<Loader> {
        LOADER.try_with(Clone::clone).ok()
    }

    /// Capacity consumed by the requests made in this scope so far.
    pub fn capacity(&self) -> Capacity {
        *lock(&self.shared.capacity)
    }

    /// Counters of this scope so far.
    pub fn stats(&self) -> LoaderStats {
        let s = &self.shared;
        LoaderStats {
            finds: s.finds.load(Ordering::Relaxed),
            cache_hits: s.cache_hits.load(Ordering::Relaxed),
            joined: s.joined.load(Ordering::Relaxed),
            keys_loaded: s.keys_loaded.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
        }
    }

    /// Forgets every cached item.
    pub fn clear(&self) {
        lock(&self.shared.state).cache.clear();
    }

    /// Loads the item at `key` (a key map in `scope`) through the scope: from the cache, by
    /// joining a read of the same key, or in the next batch.
    pub(crate) async fn load(
        &self,
        db: &Db,
        scope: &KeyScope,
        model: &'static str,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, Error> {
        let Some((pk, sk)) = crate::batch::key_of(&key) else {
            return Err(Error::invalid_request(model, "a key without _pk and _sk"));
        };
        let ck = CacheKey {
            db: db.id(),
            scope: scope.clone(),
            pk: pk.clone(),
            sk: sk.clone(),
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
                let waiters = group.waiters.entry((pk.clone(), sk.clone())).or_default();
                if waiters.is_empty() {
                    group.keys.push((pk, sk));
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
            Ok(Err(shared)) => Err(Arc::try_unwrap(shared).unwrap_or_else(Error::Shared)),
            Err(_) => Err(Error::invalid_request(
                model,
                "the loader's batch was dropped before it answered (runtime shutting down)",
            )),
        }
    }

    /// Sends group `id` of `gk` once the window has passed (unless it filled up and went first).
    fn schedule(&self, gk: GroupKey, id: u64) {
        let this = self.clone();
        let window = self.shared.window;
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
                let ck = CacheKey {
                    db: gk.db,
                    scope: gk.scope.clone(),
                    pk: k.0.clone(),
                    sk: k.1.clone(),
                };
                let w = waiters.remove(k).unwrap_or_default();
                state
                    .inflight
                    .entry((ck, gk.consistent))
                    .or_default()
                    .extend(w);
            }
            state.epoch
        };
        self.shared
            .keys_loaded
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        let key_items: Vec<Item> = keys
            .iter()
            .map(|(pk, sk)| {
                Item::from([
                    (
                        crate::key::PK_ATTR.to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()),
                    ),
                    (
                        crate::key::SK_ATTR.to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::S(sk.clone()),
                    ),
                ])
            })
            .collect();
        let raw = get_raw(
            &db,
            &gk.scope,
            model,
            key_items.clone(),
            gk.consistent,
            crate::batch::DEFAULT_CONCURRENCY,
        )
        .await;
        let shared_error = raw.error.map(Arc::new);
        let unprocessed: std::collections::HashSet<usize> =
            raw.unprocessed.iter().copied().collect();
        let mut found = raw.found;
        let mut state = lock(&self.shared.state);
        for (i, (pk, sk)) in keys.into_iter().enumerate() {
            let ck = CacheKey {
                db: gk.db,
                scope: gk.scope.clone(),
                pk,
                sk,
            };
            let waiting = state
                .inflight
                .remove(&(ck.clone(), gk.consistent))
                .unwrap_or_default();
            let outcome: Outcome = if unprocessed.contains(&i) {
                match &shared_error {
                    Some(e) => Err(e.clone()),
                    None => Err(Arc::new(Error::BatchIncomplete {
                        operation: "BatchGetItem",
                        unprocessed: vec![Unprocessed {
                            position: 0,
                            model,
                            request: UnprocessedRequest::Get {
                                key: key_items.get(i).cloned().unwrap_or_default(),
                            },
                            state: crate::batch::UnprocessedState::ReturnedUnprocessed,
                        }],
                        source: None,
                    })),
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

    fn record_write(&self, ck: CacheKey, written: Written) {
        let mut state = lock(&self.shared.state);
        state.epoch += 1;
        let epoch = state.epoch;
        let entry = state.cache.entry(ck).or_default();
        entry.last_write = epoch;
        match written {
            Written::Item(item) => {
                entry.value = Some(Some(item));
                entry.dirty = false;
            }
            Written::Deleted => {
                entry.value = Some(None);
                entry.dirty = false;
            }
            Written::Unknown => {
                entry.value = None;
                entry.dirty = true;
            }
        }
    }
}

/// Tells the running loader scope (if any) what a write did to the item at `key` in `scope`.
/// `written` is only called when a scope is running.
pub(crate) fn record_write(
    db: &Db,
    scope: &KeyScope,
    key: &(String, String),
    written: impl FnOnce() -> Written,
) {
    if let Some(loader) = Loader::current() {
        let ck = CacheKey {
            db: db.id(),
            scope: scope.clone(),
            pk: key.0.clone(),
            sk: key.1.clone(),
        };
        loader.record_write(ck, written());
    }
}

/// Adds consumed capacity to the running loader scope, if any.
pub(crate) fn record_capacity(c: Capacity) {
    let _ = LOADER.try_with(|l| *lock(&l.shared.capacity) += c);
}

/// `fut` bound to the loader scope running now (if any), for work spawned on its behalf.
pub(crate) fn carry<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let current = Loader::current();
    async move {
        match current {
            Some(l) => l.run(fut).await,
            None => fut.await,
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

/// Locks a mutex, recovering from poisoning (the state stays consistent: every critical
/// section leaves it valid at each step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
