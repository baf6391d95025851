//! Carrying the scoped tenant into spawned tasks, on request only.
//!
//! The scoped tenant is a tokio task-local, and a bare [`tokio::spawn`] starts a task with no
//! task-locals: the spawned task has no tenant, and every tenant-scoped operation in it fails
//! with [`Error::TenantRequired`](crate::Error::TenantRequired). That is the fail-closed default
//! on purpose (a background task quietly inheriting a tenant is how data ends up in the wrong
//! tenant). To carry the tenant, say so: [`spawn_in_tenant`] or
//! [`InCurrentTenant::in_current_tenant`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;
use tokio::task::JoinHandle;

use super::context::{scope_option, TenantContext};
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

/// Binds a future to the tenant scoped where it is created, for any executor or combinator
/// (`tokio::spawn`, `JoinSet::spawn`, `futures::join_all`, a channel of jobs).
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
    inner: Pin<Box<TaskLocalFuture<Option<TenantId>, F>>>,
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
}
