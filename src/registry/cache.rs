//! The registry's in-process cache: a time-to-live per entry (shorter for "there is no such
//! thing" answers), a bounded size, one load in flight per key however many callers miss at
//! once, and invalidation that also discards loads already in flight.
//!
//! Written here rather than taken from a caching crate because two of its rules are the
//! registry's own: a miss is cached for its own, shorter time, and an invalidation made while a
//! load is in flight keeps that load's (possibly stale) answer out of the cache, so a change made
//! through the registry is seen at once by every later lookup in this process.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::error::Error;

/// How long entries live and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// How long a found value is served before it is loaded again.
    pub(crate) ttl: Duration,
    /// How long "not found" is served.
    pub(crate) negative_ttl: Duration,
    /// The most entries kept; the oldest go first.
    pub(crate) capacity: usize,
}

/// One load's shared answer.
type Load<V> = Arc<OnceCell<Result<Option<V>, Error>>>;

enum Slot<V> {
    Ready {
        value: Option<V>,
        expires: Instant,
        generation: u64,
    },
    Loading {
        load: Load<V>,
        generation: u64,
    },
}

impl<V> Slot<V> {
    fn generation(&self) -> u64 {
        match self {
            Slot::Ready { generation, .. } | Slot::Loading { generation, .. } => *generation,
        }
    }
}

struct State<K, V> {
    slots: HashMap<K, Slot<V>>,
    /// Keys in the order their slots were made, with the slot's generation: eviction order.
    /// Entries whose slot has since been replaced or removed are skipped.
    order: VecDeque<(K, u64)>,
    next_generation: u64,
}

/// A cache of `K` to `Option<V>`.
pub(crate) struct Cache<K, V> {
    state: Mutex<State<K, V>>,
    limits: Limits,
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    pub(crate) fn new(limits: Limits) -> Self {
        Cache {
            state: Mutex::new(State {
                slots: HashMap::new(),
                order: VecDeque::new(),
                next_generation: 0,
            }),
            limits: Limits {
                capacity: limits.capacity.max(1),
                ..limits
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K, V>> {
        // A panic while the lock was held left the map consistent (no step panics mid-update).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached answer for `key`, else the answer of `load` (run once for all the callers
    /// that miss at the same time; an error is returned to each of them and not cached).
    pub(crate) async fn get_or_load<F, Fut>(&self, key: &K, load: F) -> Result<Option<V>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<V>, Error>>,
    {
        let cell = {
            let mut state = self.lock();
            let now = Instant::now();
            match state.slots.get(key) {
                Some(Slot::Ready { value, expires, .. }) if *expires > now => {
                    return Ok(value.clone())
                }
                Some(Slot::Loading { load, .. }) => load.clone(),
                _ => {
                    let load: Load<V> = Arc::new(OnceCell::new());
                    let generation = state.next_generation;
                    state.next_generation += 1;
                    self.make_room(&mut state, now);
                    state.slots.insert(
                        key.clone(),
                        Slot::Loading {
                            load: load.clone(),
                            generation,
                        },
                    );
                    state.order.push_back((key.clone(), generation));
                    load
                }
            }
        };
        // If the caller running the load is cancelled, the next waiter runs its own.
        let answer = cell.get_or_init(load).await.clone();
        let mut state = self.lock();
        let current = matches!(
            state.slots.get(key),
            Some(Slot::Loading { load, .. }) if Arc::ptr_eq(load, &cell)
        );
        if current {
            match &answer {
                Ok(value) => {
                    let ttl = if value.is_some() {
                        self.limits.ttl
                    } else {
                        self.limits.negative_ttl
                    };
                    if let Some(slot) = state.slots.get_mut(key) {
                        let generation = slot.generation();
                        *slot = Slot::Ready {
                            value: value.clone(),
                            expires: Instant::now() + ttl,
                            generation,
                        };
                    }
                }
                Err(_) => {
                    state.slots.remove(key);
                }
            }
        }
        answer
    }

    /// Forgets `key`, and keeps a load of it already in flight from being cached.
    pub(crate) fn invalidate(&self, key: &K) {
        self.lock().slots.remove(key);
    }

    /// Forgets every entry whose key or found value `stale` picks, loads in flight included.
    pub(crate) fn invalidate_where(&self, stale: impl Fn(&K, Option<&V>) -> bool) {
        self.lock().slots.retain(|k, slot| match slot {
            Slot::Ready { value, .. } => !stale(k, value.as_ref()),
            Slot::Loading { .. } => !stale(k, None),
        });
    }

    /// How many entries are held (loads in flight included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// Evicts until one more entry fits: expired entries first, then the oldest.
    fn make_room(&self, state: &mut State<K, V>, now: Instant) {
        if state.slots.len() < self.limits.capacity {
            return;
        }
        state
            .slots
            .retain(|_, slot| !matches!(slot, Slot::Ready { expires, .. } if *expires <= now));
        while state.slots.len() >= self.limits.capacity {
            let Some((key, generation)) = state.order.pop_front() else {
                break;
            };
            if state.slots.get(&key).map(Slot::generation) == Some(generation) {
                state.slots.remove(&key);
            }
        }
        // Drop the order entries of slots that are gone, so the queue stays near the map's size.
        if state.order.len() > 2 * self.limits.capacity {
            let slots = &state.slots;
            state
                .order
                .retain(|(k, g)| slots.get(k).map(Slot::generation) == Some(*g));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cache(capacity: usize) -> Cache<String, u32> {
        Cache::new(Limits {
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            capacity,
        })
    }

    async fn get(
        c: &Cache<String, u32>,
        key: &str,
        loads: &AtomicUsize,
        v: Option<u32>,
    ) -> Option<u32> {
        c.get_or_load(&key.to_owned(), || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(v)
        })
        .await
        .expect("no error")
    }

    #[tokio::test(start_paused = true)]
    async fn hits_are_served_until_the_ttl_and_misses_until_the_shorter_one() {
        let c = cache(10);
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, "a", &loads, Some(1)).await, Some(1));
        assert_eq!(get(&c, "a", &loads, Some(2)).await, Some(1));
        assert_eq!(get(&c, "gone", &loads, None).await, None);
        assert_eq!(get(&c, "gone", &loads, Some(3)).await, None);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(
            get(&c, "gone", &loads, Some(3)).await,
            Some(3),
            "the miss expired"
        );
        assert_eq!(
            get(&c, "a", &loads, Some(2)).await,
            Some(1),
            "the hit did not"
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(get(&c, "a", &loads, Some(2)).await, Some(2));
        assert_eq!(loads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load_and_errors_are_not_cached() {
        let c = Arc::new(cache(10));
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (c, loads) = (c.clone(), loads.clone());
                tokio::spawn(async move {
                    c.get_or_load(&"k".to_owned(), || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Err::<Option<u32>, _>(Error::Config("down".into()))
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await.expect("joined"), Err(Error::Config(_))));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(c.len(), 0, "the error was not cached");
        let l = AtomicUsize::new(0);
        assert_eq!(get(&c, "k", &l, Some(7)).await, Some(7));
    }

    #[tokio::test]
    async fn an_invalidation_during_a_load_keeps_its_answer_out() {
        let c = Arc::new(cache(10));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let loading = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get_or_load(&"k".to_owned(), || async move {
                    let _ = started_tx.send(());
                    let _ = go_rx.await;
                    Ok(Some(1))
                })
                .await
            })
        };
        started_rx.await.expect("the load started");
        c.invalidate(&"k".to_owned());
        go_tx.send(()).expect("the load waits");
        assert_eq!(loading.await.expect("joined").expect("loaded"), Some(1));
        let loads = AtomicUsize::new(0);
        assert_eq!(
            get(&c, "k", &loads, Some(2)).await,
            Some(2),
            "the stale answer was not kept"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_size_is_bounded_expired_and_oldest_entries_go_first() {
        let c = cache(3);
        let loads = AtomicUsize::new(0);
        for k in ["a", "b", "c"] {
            get(&c, k, &loads, Some(1)).await;
        }
        assert_eq!(c.len(), 3);
        get(&c, "d", &loads, Some(1)).await;
        assert_eq!(c.len(), 3);
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        get(&c, "b", &loads, Some(1)).await; // still cached
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        get(&c, "a", &loads, Some(1)).await; // the oldest, evicted
        assert_eq!(loads.load(Ordering::SeqCst), 5);
        for i in 0..1000 {
            get(&c, &format!("flood{i}"), &loads, None).await;
        }
        assert_eq!(c.len(), 3);
        assert!(c.lock().order.len() <= 7);
    }

    #[tokio::test]
    async fn invalidate_where_picks_by_value() {
        let c = cache(10);
        let loads = AtomicUsize::new(0);
        get(&c, "a", &loads, Some(1)).await;
        get(&c, "b", &loads, Some(2)).await;
        get(&c, "none", &loads, None).await;
        c.invalidate_where(|k, v| v == Some(&1) || k == "none");
        assert_eq!(c.len(), 1);
    }
}
