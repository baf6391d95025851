//! Carrying the scoped tenant into spawned tasks, on request only.
//!
//! The scoped tenant belongs to the task that polls the scope. A bare [`tokio::spawn`] starts
//! a task with no scope, and so does [`tokio::task::spawn_local`], even when the
//! [`LocalSet`](tokio::task::LocalSet) is driven inside some tenant's scope: every
//! tenant-scoped operation in such a task fails with
//! [`Error::TenantRequired`](crate::Error::TenantRequired). That is the fail-closed default on
//! purpose (a background task quietly inheriting a tenant is how data ends up in the wrong
//! tenant). To carry the tenant, say so: [`spawn_in_tenant`], [`spawn_local_in_tenant`] or
//! [`InCurrentTenant::in_current_tenant`]. The [tenancy module docs](super#where-a-future-can-leave-its-scope)
//! list every way a future can leave its scope.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

use super::context::{scope_option, Scoped, TenantContext};
use super::id::TenantId;

/// Spawns `fut` on the tokio runtime with the tenant scoped to the caller, captured now.
///
/// Only the *scoped* tenant is carried (from [`TenantContext::run_with_tenant`] and friends);
/// the process-wide fallback needs no carrying, and resolvers run again in the task if it
/// asks. If the caller has no scoped tenant, the task has none either, exactly like a bare
/// [`tokio::spawn`]. Must be called from within a tokio runtime, like `tokio::spawn`.
pub fn spawn_in_tenant<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_tenant())
}

/// Spawns `fut` on the current [`LocalSet`](tokio::task::LocalSet) (like
/// [`tokio::task::spawn_local`], so for futures that are not `Send`) with the tenant scoped to
/// the caller, captured now.
///
/// A bare `spawn_local` has no tenant, whoever drives the set; this is the way to give it the
/// spawner's. Same rules as [`spawn_in_tenant`]; panics outside a `LocalSet`, like
/// `spawn_local`.
pub fn spawn_local_in_tenant<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::spawn_local(fut.in_current_tenant())
}

/// Binds a future to the tenant scoped where it is created, for any executor or combinator
/// (`tokio::spawn`, `spawn_local`, `JoinSet::spawn`, `futures::join_all`, a channel of jobs, a
/// future shared between tasks).
///
/// Implemented for every future.
pub trait InCurrentTenant: Future + Sized {
    /// Captures the scoped tenant now ([`TenantContext::scoped`]) and returns a future that
    /// runs `self` under exactly that tenant, wherever and whenever it is polled. If no tenant
    /// is scoped now, `self` runs with no scoped tenant (even if polled inside another scope).
    fn in_current_tenant(self) -> InTenant<Self>;
}

impl<F: Future> InCurrentTenant for F {
    fn in_current_tenant(self) -> InTenant<Self> {
        let tenant = TenantContext::scoped();
        InTenant {
            inner: Box::pin(scope_option(tenant.clone(), self)),
            tenant,
        }
    }
}

/// A future that runs its inner future under the tenant captured when it was made; returned by
/// [`InCurrentTenant::in_current_tenant`].
///
/// The inner future is boxed (one allocation), which keeps this type `Unpin` and the crate free
/// of `unsafe` pin projection.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct InTenant<F> {
    /// The wrapped future inside its task-local scope.
    inner: Pin<Box<Scoped<F>>>,
    /// A copy of the captured tenant, for [`InTenant::tenant`] and `Debug`.
    tenant: Option<TenantId>,
}

impl<F> InTenant<F> {
    /// The tenant this future runs under (`None`: explicitly no scoped tenant).
    pub fn tenant(&self) -> Option<&TenantId> {
        self.tenant.as_ref()
    }
}

impl<F: Future> Future for InTenant<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> fmt::Debug for InTenant<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InTenant")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
// The global test lock is held for a whole test on purpose, and some tests build a future or
// a join handle inside a scope to await it outside, which is what they check.
#[allow(clippy::await_holding_lock, clippy::async_yields_async)]
mod tests {
    use super::*;
    use crate::tenant::{global_test_lock, resolver_fn};
    use crate::Error;

    fn tid(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[tokio::test]
    async fn spawn_in_tenant_carries_the_scoped_tenant() {
        let seen = TenantContext::scope(tid("acme"), async {
            spawn_in_tenant(async {
                tokio::task::yield_now().await;
                TenantContext::scoped()
            })
        })
        .await
        .await
        .unwrap();
        assert_eq!(seen, Some(tid("acme")));
    }

    #[tokio::test]
    async fn bare_spawn_has_no_tenant_and_fails_closed() {
        let _g = global_test_lock();
        let (current, resolved) = TenantContext::scope(tid("acme"), async {
            tokio::spawn(async { (TenantContext::current(), TenantContext::resolve().await) })
                .await
                .unwrap()
        })
        .await;
        assert_eq!(current, None);
        assert!(matches!(resolved, Err(Error::TenantRequired)));
    }

    #[tokio::test]
    async fn spawn_in_tenant_without_scope_has_none() {
        let _g = global_test_lock();
        let (current, resolved) =
            spawn_in_tenant(async { (TenantContext::current(), TenantContext::resolve().await) })
                .await
                .unwrap();
        assert_eq!(current, None);
        assert!(matches!(resolved, Err(Error::TenantRequired)));
    }

    #[tokio::test]
    async fn spawned_task_without_scope_still_sees_fallback_and_resolvers() {
        let _g = global_test_lock();
        TenantContext::add_resolver(resolver_fn(|| Ok(Some(TenantId::new("resolved")?))));
        let r = tokio::spawn(TenantContext::resolve()).await.unwrap();
        assert_eq!(r.unwrap(), "resolved");
        TenantContext::set_current_tenant("script").unwrap();
        let r = tokio::spawn(async { TenantContext::current() })
            .await
            .unwrap();
        assert_eq!(r, Some(tid("script")));
    }

    #[tokio::test]
    async fn in_current_tenant_captures_at_creation() {
        let (bound, unbound) = TenantContext::scope(tid("acme"), async {
            (
                async { TenantContext::scoped() }.in_current_tenant(),
                async { TenantContext::scoped() },
            )
        })
        .await;
        assert_eq!(bound.tenant(), Some(&tid("acme")));
        // Polled outside any scope, the bound future still runs under its tenant.
        assert_eq!(bound.await, Some(tid("acme")));
        assert_eq!(unbound.await, None);

        // Polled under another scope, it keeps the tenant it captured...
        let captured = TenantContext::scope(tid("one"), async {
            async { TenantContext::scoped() }.in_current_tenant()
        })
        .await;
        let seen = TenantContext::scope(tid("two"), captured).await;
        assert_eq!(seen, Some(tid("one")));

        // ... and "no tenant" is captured too.
        let captured_none = async { TenantContext::scoped() }.in_current_tenant();
        assert_eq!(captured_none.tenant(), None);
        assert!(format!("{captured_none:?}").starts_with("InTenant"));
        let seen = TenantContext::scope(tid("two"), captured_none).await;
        assert_eq!(seen, None);
    }

    #[tokio::test]
    async fn in_current_tenant_works_with_join_set() {
        let mut set = tokio::task::JoinSet::new();
        for name in ["a", "b", "c"] {
            TenantContext::scope(tid(name), async {
                set.spawn(
                    async move {
                        tokio::task::yield_now().await;
                        (name, TenantContext::scoped())
                    }
                    .in_current_tenant(),
                );
            })
            .await;
        }
        while let Some(joined) = set.join_next().await {
            let (name, seen) = joined.unwrap();
            assert_eq!(seen, Some(tid(name)));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn thousand_spawned_tasks_over_twenty_tenants() {
        let tenants: Vec<TenantId> = (0..20).map(|i| tid(&format!("t{i}"))).collect();
        let mut handles = Vec::with_capacity(1000);
        for n in 0..1000 {
            let mine = tenants[n % tenants.len()].clone();
            let expected = mine.clone();
            let handle = TenantContext::scope(mine, async move {
                spawn_in_tenant(async move {
                    for _ in 0..5 {
                        tokio::task::yield_now().await;
                        if TenantContext::current().as_ref() != Some(&expected) {
                            return false;
                        }
                    }
                    true
                })
            })
            .await;
            handles.push(handle);
        }
        for h in handles {
            assert!(h.await.unwrap(), "a task saw another tenant");
        }
    }

    /// Attack: `spawn_local` called in tenant B's scope, on a `LocalSet` driven inside tenant
    /// A's scope, used to run as A (the set's tasks are polled inside A's poll).
    #[tokio::test]
    async fn spawn_local_on_a_set_driven_in_another_tenant_has_no_tenant() {
        let _g = global_test_lock();
        let local = tokio::task::LocalSet::new();
        let seen = TenantContext::scope(
            tid("a"),
            local.run_until(async {
                // The set is driven in A; the spawner is in B.
                let handle = TenantContext::scope(tid("b"), async {
                    tokio::task::spawn_local(async {
                        tokio::task::yield_now().await;
                        (TenantContext::current(), TenantContext::resolve().await)
                    })
                })
                .await;
                handle.await.unwrap()
            }),
        )
        .await;
        assert_eq!(seen.0, None, "a bare spawn_local ran as {:?}", seen.0);
        assert!(matches!(seen.1, Err(Error::TenantRequired)), "{:?}", seen.1);
    }

    #[tokio::test]
    async fn a_bare_spawn_local_does_not_inherit_the_scope_that_drives_the_set() {
        let _g = global_test_lock();
        // Driven by a scoped task, spawned from that same scope: still no tenant.
        let local = tokio::task::LocalSet::new();
        let seen = local
            .run_until(TenantContext::scope(tid("a"), async {
                let inside = TenantContext::scoped();
                let spawned = tokio::task::spawn_local(async { TenantContext::scoped() });
                let mut set = tokio::task::JoinSet::new();
                set.spawn_local(async { TenantContext::scoped() });
                let joined = set.join_next().await.unwrap().unwrap();
                (inside, spawned.await.unwrap(), joined)
            }))
            .await;
        assert_eq!(seen, (Some(tid("a")), None, None));

        // `LocalSet::spawn_local` before the set runs, and the set driven inside a scope.
        let local = tokio::task::LocalSet::new();
        let handle = local.spawn_local(async { TenantContext::scoped() });
        TenantContext::scope(tid("a"), local).await;
        assert_eq!(handle.await.unwrap(), None);
    }

    #[tokio::test]
    async fn spawn_local_in_tenant_carries_the_spawners_tenant() {
        let local = tokio::task::LocalSet::new();
        let seen = TenantContext::scope(
            tid("a"),
            local.run_until(async {
                let from_b = TenantContext::scope(tid("b"), async {
                    spawn_local_in_tenant(async {
                        tokio::task::yield_now().await;
                        // Nested scopes inside a local task work as anywhere else.
                        let nested =
                            TenantContext::scope(tid("c"), async { TenantContext::scoped() }).await;
                        (TenantContext::scoped(), nested)
                    })
                })
                .await;
                let from_none = TenantContext::scope(tid("b"), async {
                    // in_current_tenant on a future made outside any scope carries "none".
                    tokio::task::spawn_local(async { TenantContext::scoped() }.in_current_tenant())
                })
                .await;
                (from_b.await.unwrap(), from_none.await.unwrap())
            }),
        )
        .await;
        assert_eq!(seen.0, (Some(tid("b")), Some(tid("c"))));
        assert_eq!(seen.1, Some(tid("b")));
    }

    #[tokio::test]
    async fn futures_polled_by_the_same_task_share_its_scope() {
        use futures::stream::{FuturesUnordered, StreamExt};
        // join!, FuturesUnordered, join_all: one task, so its scope at each poll.
        let seen: Vec<Option<TenantId>> = TenantContext::scope(tid("a"), async {
            let set: FuturesUnordered<_> = (0..3)
                .map(|_| async {
                    tokio::task::yield_now().await;
                    TenantContext::scoped()
                })
                .collect();
            let mut all: Vec<_> = set.collect().await;
            let (x, y) = futures::join!(async { TenantContext::scoped() }, async {
                TenantContext::scoped()
            });
            all.extend([x, y]);
            all
        })
        .await;
        assert_eq!(seen, vec![Some(tid("a")); 5]);
    }

    #[tokio::test]
    async fn a_future_shared_between_tasks_binds_the_tenant_of_the_task_polling_it() {
        use futures::FutureExt;
        // Made in A's scope but first polled by a task in B: it runs as B (an operation binds
        // its tenant at its first poll) ...
        let plain = TenantContext::scope(tid("a"), async {
            async { TenantContext::scoped() }.boxed().shared()
        })
        .await;
        let polled_in_b = tokio::spawn(TenantContext::scope(tid("b"), plain.clone()))
            .await
            .unwrap();
        assert_eq!(polled_in_b, Some(tid("b")));
        // ... unless bound where it was made.
        let bound = TenantContext::scope(tid("a"), async {
            async { TenantContext::scoped() }
                .in_current_tenant()
                .shared()
        })
        .await;
        let polled_in_b = tokio::spawn(TenantContext::scope(tid("b"), bound))
            .await
            .unwrap();
        assert_eq!(polled_in_b, Some(tid("a")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_tasks_and_threads_have_no_tenant() {
        let _g = global_test_lock();
        let (blocking, thread) = TenantContext::scope(tid("a"), async {
            let blocking = tokio::task::spawn_blocking(TenantContext::current)
                .await
                .unwrap();
            let thread = std::thread::spawn(TenantContext::current).join().unwrap();
            (blocking, thread)
        })
        .await;
        assert_eq!((blocking, thread), (None, None));
        // Carrying it there: capture, then scope a future run on that thread.
        let handle = tokio::runtime::Handle::current();
        let carried = TenantContext::scope(tid("a"), async move {
            let tenant = TenantContext::scoped();
            tokio::task::spawn_blocking(move || {
                handle.block_on(super::scope_option(tenant, async {
                    TenantContext::scoped()
                }))
            })
            .await
            .unwrap()
        })
        .await;
        assert_eq!(carried, Some(tid("a")));
    }

    #[test]
    fn scopes_outside_any_task_work_and_restore() {
        // A root future of `block_on` runs in no task: its scope still applies to itself.
        let seen = futures::executor::block_on(TenantContext::scope(tid("a"), async {
            let inner = TenantContext::scope(tid("b"), async { TenantContext::scoped() }).await;
            (TenantContext::scoped(), inner)
        }));
        assert_eq!(seen, (Some(tid("a")), Some(tid("b"))));
        assert_eq!(TenantContext::scoped(), None);
    }

    #[test]
    fn a_panicking_poll_restores_the_outer_scope() {
        let outcome = futures::executor::block_on(TenantContext::scope(tid("outer"), async {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                futures::executor::block_on(TenantContext::scope(tid("inner"), async {
                    panic!("boom (expected in this test)");
                }))
            }));
            (panicked.is_err(), TenantContext::scoped())
        }));
        assert_eq!(outcome, (true, Some(tid("outer"))));
        assert_eq!(TenantContext::scoped(), None);
    }
}
