//! The loader's request scope: its cache, the reads waiting and in flight, its counters and
//! capacity meter. The batch engine and every write record what they did here; the batcher
//! that fills it ([`loader`](crate::loader)) sits above the batch engine.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::db::Db;
use crate::error::{Error, Item};
use crate::exec::{Capacity, CapacityMeter};
use crate::key::{KeyScope, StoredKey};

tokio::task_local! {
    static LOADER: Loader;
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

/// A request-scoped batching loader and cache; see the [module docs](crate::loader).
///
/// Cheap to clone: clones share one scope's cache and counters.
#[derive(Clone)]
pub struct Loader {
    /// How long a find waits for others before its batch goes (per handle: the scope's tasks
    /// carry the clone they were started with).
    pub(crate) window: Duration,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("window", &self.window)
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

/// What the clones of one [`Loader`] share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    meter: CapacityMeter,
    pub(crate) finds: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) joined: AtomicU64,
    pub(crate) keys_loaded: AtomicU64,
    pub(crate) batches: AtomicU64,
}

/// One cached item: the handle's table, the tenant scope and the stored key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) db: u64,
    pub(crate) scope: KeyScope,
    pub(crate) key: StoredKey,
}

/// The reads that go out together: one table, tenant scope, model and consistency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct GroupKey {
    pub(crate) db: u64,
    pub(crate) scope: KeyScope,
    /// The model's prefix (unique per keyspace, see [`registry`](crate::model::registry)), so
    /// a group's spans and errors name the model of every key in it.
    pub(crate) prefix: &'static str,
    pub(crate) consistent: bool,
}

impl GroupKey {
    /// The cache key of `key` read by this group.
    pub(crate) fn cache_key(&self, key: StoredKey) -> CacheKey {
        CacheKey {
            db: self.db,
            scope: self.scope.clone(),
            key,
        }
    }
}

/// What the cache knows about one key.
#[derive(Default)]
pub(crate) struct Entry {
    /// `Some(item or None for missing)`: known; `None`: unknown (never read, or evicted).
    pub(crate) value: Option<Option<Item>>,
    /// The write epoch of the last write to the key, 0 if none.
    pub(crate) last_write: u64,
    /// A write of unknown outcome happened: read strongly consistently next time.
    pub(crate) dirty: bool,
}

/// What a waiting `find` is answered with.
pub(crate) type Outcome = Result<Option<Item>, Error>;
type Waiter = oneshot::Sender<Outcome>;

/// Keys of one model waiting for the batching window to pass.
pub(crate) struct Group {
    pub(crate) id: u64,
    pub(crate) db: Db,
    pub(crate) model: &'static str,
    pub(crate) keys: Vec<StoredKey>,
    pub(crate) waiters: HashMap<StoredKey, Vec<Waiter>>,
}

/// The scope's cache and its reads waiting and in flight, under one lock so that a write
/// recorded while a read is in flight is never overwritten by that read.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) cache: HashMap<CacheKey, Entry>,
    pub(crate) pending: HashMap<GroupKey, Group>,
    pub(crate) inflight: HashMap<(CacheKey, bool), Vec<Waiter>>,
    pub(crate) epoch: u64,
    pub(crate) next_group: u64,
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
        Loader {
            window: DEFAULT_WINDOW,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                meter: CapacityMeter::default(),
                finds: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
                joined: AtomicU64::new(0),
                keys_loaded: AtomicU64::new(0),
                batches: AtomicU64::new(0),
            }),
        }
    }

    /// The same loader waiting `window` for more finds before sending a batch. A full batch
    /// (100 keys) goes at once. `Duration::ZERO` still merges finds made in the same poll
    /// (a `join_all`), not ones made after an await.
    pub fn with_window(self, window: Duration) -> Self {
        Loader { window, ..self }
    }

    /// Runs `fut` in a new loader scope with the default window (a tokio task-local, like the
    /// tenant: the scope does not travel into a bare `tokio::spawn`).
    pub fn scope<F: Future>(fut: F) -> impl Future<Output = F::Output> {
        Loader::new().run(fut)
    }

    /// Runs `fut` in this loader's scope. Keep a clone to read [`capacity`](Loader::capacity)
    /// and [`stats`](Loader::stats) afterwards.
    pub fn run<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        LOADER.scope(self.clone(), self.shared.meter.measure(fut))
    }

    /// The loader of the running scope, if any.
    pub fn current() -> Option<Loader> {
        LOADER.try_with(Clone::clone).ok()
    }

    /// Capacity consumed by the requests made in this scope so far.
    pub fn capacity(&self) -> Capacity {
        self.shared.meter.total()
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

    pub(crate) fn record_write(&self, ck: CacheKey, written: Written) {
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
    key: &StoredKey,
    written: impl FnOnce() -> Written,
) {
    if let Some(loader) = Loader::current() {
        let ck = CacheKey {
            db: db.id(),
            scope: scope.clone(),
            key: key.clone(),
        };
        loader.record_write(ck, written());
    }
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

/// Locks a mutex, recovering from poisoning (the state stays consistent: every critical
/// section leaves it valid at each step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
