//! [`TenantContext`]: the scoped tenant (a tokio task-local), the process-wide fallback, and
//! the full lookup that ends in the resolver chain.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use super::id::{IntoTenantId, TenantId};
use super::resolver::{self, TenantResolver};
use crate::Error;

thread_local! {
    /// The binding of the scope being polled on this thread, if any. Each poll of a
    /// [`Scoped`] future installs its binding and restores the previous one afterwards (also
    /// on unwind), exactly what a tokio task-local does, with the task check of [`Binding`] on
    /// top. `tenant: None` is an explicit "no tenant" scope, used by
    /// [`InCurrentTenant`](super::InCurrentTenant) when it captured no tenant, so that a future
    /// carries exactly what it captured even when it is polled under another scope.
    static SCOPED: RefCell<Option<Binding>> = const { RefCell::new(None) };
}

/// What a scope sets while its future is polled: the tenant, and the tokio task polling it.
///
/// A tokio task-local scope is set for the duration of each poll of the scoped future, and
/// everything polled inside that poll sees it, including the tasks of a
/// [`LocalSet`](tokio::task::LocalSet) driven from inside the scope: `spawn_local` called in
/// tenant B's scope, on a set driven in tenant A's scope, would run as A. The binding records
/// the [task id](tokio::task::try_id) of the poll that set it, and a lookup from another task
/// sees no scoped tenant. A scope set outside any task (a `block_on` root future) carries
/// `None`, and so does a lookup there.
#[derive(Clone)]
struct Binding {
    tenant: Option<TenantId>,
    task: Option<tokio::task::Id>,
}

/// The process-wide fallback tenant; see [`TenantContext::set_current_tenant`].
static FALLBACK: RwLock<Option<TenantId>> = RwLock::new(None);

/// Where dynabao finds the current tenant: a namespace of associated functions.
///
/// The lookup ([`TenantContext::resolve`]) tries, in order:
///
/// 1. the tenant scoped to the running future by [`run_with_tenant`](Self::run_with_tenant),
///    [`with_tenant`](Self::with_tenant) or [`scope`](Self::scope) (a tokio task-local, so
///    concurrent tasks never see each other's tenant, whatever thread they run on);
/// 2. the process-wide fallback of [`set_current_tenant`](Self::set_current_tenant) (scripts and
///    tests only);
/// 3. the resolver chain of [`add_resolver`](Self::add_resolver), in the order the resolvers
///    were added.
///
/// If none answers, the lookup fails with [`Error::TenantRequired`]: there is no default tenant.
///
/// The scope is task-local: a future spawned with a bare [`tokio::spawn`] (or code run on
/// `spawn_blocking` or another thread) has no scoped tenant, and so fails closed. Carry the
/// tenant with [`spawn_in_tenant`](super::spawn_in_tenant) or
/// [`in_current_tenant`](super::InCurrentTenant::in_current_tenant).
#[derive(Debug, Clone, Copy, Default)]
pub struct TenantContext;

impl TenantContext {
    /// Runs `fut` with `tenant` as the scoped tenant.
    ///
    /// The infallible primitive under [`run_with_tenant`](Self::run_with_tenant) and
    /// [`with_tenant`](Self::with_tenant), for callers that already hold a [`TenantId`]. The
    /// tenant is set only while `fut` is being polled (and while it is dropped), so whatever
    /// was in scope around it is in scope again as soon as `fut` finishes, fails, or is
    /// dropped unfinished.
    pub fn scope<F: Future>(tenant: TenantId, fut: F) -> impl Future<Output = F::Output> {
        scope_option(Some(tenant), fut)
    }

    /// Validates `id` and runs `fut` with it as the scoped tenant: the way to give a request,
    /// a job or a test its tenant.
    ///
    /// An invalid id gives `Err(E::from(Error::InvalidTenantId { .. }))` and `fut` is never
    /// polled. `E` is any error type that a dynabao [`Error`] converts into, so the closure's
    /// own `?` on dynabao calls works unchanged.
    ///
    /// ```
    /// use dynabao::tenant::TenantContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), dynabao::Error> {
    /// let who = TenantContext::run_with_tenant("acme", async {
    ///     let tenant = TenantContext::resolve().await?;
    ///     Ok::<_, dynabao::Error>(tenant.to_string())
    /// })
    /// .await?;
    /// assert_eq!(who, "acme");
    ///
    /// // Outside the scope there is no tenant, and dynabao fails closed.
    /// let err = TenantContext::resolve().await.unwrap_err();
    /// assert_eq!(err.code(), "tenant_required");
    ///
    /// // An invalid id is rejected before the future runs.
    /// let err = TenantContext::run_with_tenant("acme#admin", async { Ok::<_, dynabao::Error>(()) })
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.code(), "invalid_tenant_id");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_with_tenant<I, F, T, E>(id: I, fut: F) -> Result<T, E>
    where
        I: IntoTenantId,
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tenant = id.into_tenant_id().map_err(E::from)?;
        scope_option(Some(tenant), fut).await
    }

    /// Runs `fut` under a different tenant, inside an existing scope: for admin and
    /// cross-tenant jobs (an operator acting on a customer's data, a migration walking every
    /// tenant).
    ///
    /// Same contract as [`run_with_tenant`](Self::run_with_tenant); the separate name makes the
    /// override visible in code review and in traces (a `debug` event names both tenants). The
    /// outer tenant is back in scope as soon as `fut` completes, returns an error, or is
    /// dropped before completion (cancellation), because the override only exists while `fut`
    /// is being polled.
    pub async fn with_tenant<I, F, T, E>(id: I, fut: F) -> Result<T, E>
    where
        I: IntoTenantId,
        F: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let tenant = id.into_tenant_id().map_err(E::from)?;
        tracing::debug!(
            tenant = %tenant,
            outer = ?Self::scoped(),
            "dynabao: tenant override (with_tenant)"
        );
        scope_option(Some(tenant), fut).await
    }

    /// Sets the process-wide fallback tenant, used where no scope is active.
    ///
    /// For scripts, REPL-style tools and tests only: it is shared by every task and thread of
    /// the process, so a service that sets it would hand one tenant to every request that lacks
    /// a scope. Services use [`run_with_tenant`](Self::run_with_tenant) or resolvers.
    pub fn set_current_tenant(id: impl IntoTenantId) -> Result<(), Error> {
        let tenant = id.into_tenant_id()?;
        *FALLBACK.write().unwrap_or_else(PoisonError::into_inner) = Some(tenant);
        Ok(())
    }

    /// Removes the process-wide fallback tenant set by
    /// [`set_current_tenant`](Self::set_current_tenant), so lookups fail closed again.
    pub fn clear_tenant() {
        *FALLBACK.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The tenant in scope, else the process-wide fallback; `None` if neither is set.
    ///
    /// Synchronous and cheap, for logs and checks. It does not ask the resolvers; operations
    /// use [`resolve`](Self::resolve).
    pub fn current() -> Option<TenantId> {
        Self::scoped().or_else(fallback)
    }

    /// Only the tenant scoped to the running task, ignoring the fallback and the resolvers.
    ///
    /// This is what [`spawn_in_tenant`](super::spawn_in_tenant) captures: a scope is carried
    /// into a spawned task, the process-wide fallback needs no carrying.
    ///
    /// A scope belongs to the task that polls it: a task that merely runs inside another task's
    /// poll (a [`LocalSet`](tokio::task::LocalSet)'s `spawn_local` tasks, when the set is
    /// driven inside a scope) sees no scoped tenant here.
    pub fn scoped() -> Option<TenantId> {
        SCOPED
            .try_with(|cell| {
                let binding = cell.try_borrow().ok()?;
                let binding = binding.as_ref()?;
                if binding.task == tokio::task::try_id() {
                    binding.tenant.clone()
                } else {
                    None
                }
            })
            .ok()
            .flatten()
    }

    /// The full lookup every tenant-scoped operation performs: scope, then fallback, then the
    /// resolvers in order.
    ///
    /// The first resolver that answers `Ok(Some(tenant))` wins. A resolver error stops the
    /// chain and is returned as the resolver returned it (usually
    /// [`Error::TenantResolver`], see [`resolver_error`](super::resolver_error)); it is never
    /// skipped over to a later resolver. When nothing answers: [`Error::TenantRequired`].
    ///
    /// Resolvers are asked on every call that reaches them; a request handler that needs the
    /// tenant many times resolves once and scopes the rest with
    /// [`scope`](Self::scope).
    pub async fn resolve() -> Result<TenantId, Error> {
        if let Some(tenant) = Self::current() {
            return Ok(tenant);
        }
        resolver::run_chain().await?.ok_or(Error::TenantRequired)
    }
}

/// The process-wide fallback, if set.
fn fallback() -> Option<TenantId> {
    FALLBACK
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Runs `fut` with exactly `tenant` in scope; `None` scopes "no tenant" (hiding any outer
/// scope). The concrete return type lets [`InTenant`](super::InTenant) name it.
pub(super) fn scope_option<F: Future>(tenant: Option<TenantId>, fut: F) -> Scoped<F> {
    Scoped {
        tenant,
        inner: Some(fut),
    }
}

pin_project_lite::pin_project! {
    /// A future run under a tenant scope bound to the task that polls it (see [`Binding`]).
    ///
    /// The scope is set for each poll and while the inner future is dropped (so its
    /// destructors see the tenant it ran under), like tokio's own task-local futures.
    pub(crate) struct Scoped<F> {
        tenant: Option<TenantId>,
        // `None` only while being dropped.
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let binding = Binding {
                tenant: this.tenant.clone(),
                task: tokio::task::try_id(),
            };
            let mut inner = this.inner;
            with_binding(binding, || inner.set(None));
        }
    }
}

/// Runs `f` with `binding` installed, restoring what was there before, also if `f` panics.
///
/// If the thread-local is gone (a future dropped while its thread shuts down), `f` runs with
/// no scope at all: lookups fail closed, nothing panics.
fn with_binding<R>(binding: Binding, f: impl FnOnce() -> R) -> R {
    /// Puts the previous binding back when dropped.
    struct Restore(Option<Option<Binding>>);

    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                let _ = SCOPED.try_with(|cell| {
                    if let Ok(mut slot) = cell.try_borrow_mut() {
                        *slot = previous;
                    }
                });
            }
        }
    }

    let previous = SCOPED
        .try_with(|cell| {
            cell.try_borrow_mut()
                .ok()
                .map(|mut slot| slot.replace(binding))
        })
        .ok()
        .flatten();
    let _restore = Restore(previous);
    f()
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let binding = Binding {
            tenant: this.tenant.clone(),
            task: tokio::task::try_id(),
        };
        let inner = this.inner;
        with_binding(binding, || match inner.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            // Not reachable: the future is only taken out when `Scoped` itself is dropped.
            None => Poll::Pending,
        })
    }
}

impl TenantContext {
    /// Appends `resolver` to the process-wide chain that [`TenantContext::resolve`] asks when
    /// no scope and no fallback names a tenant. Resolvers are asked in the order they were
    /// added; add the most specific first.
    pub fn add_resolver(resolver: impl TenantResolver) {
        resolver::add(Arc::new(resolver));
    }

    /// Removes every resolver from the process-wide chain (tests, reconfiguration).
    pub fn clear_resolvers() {
        resolver::clear();
    }
}

#[cfg(test)]
#[allow(clippy::await_holding_lock)] // the global test lock is held for a whole test on purpose
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use futures::FutureExt;

    use super::*;
    use crate::tenant::{global_test_lock, resolver_fn};

    fn tid(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    #[tokio::test]
    async fn run_with_tenant_scopes_the_future_only() {
        let _g = global_test_lock();
        assert_eq!(TenantContext::current(), None);
        let seen = TenantContext::run_with_tenant("acme", async {
            tokio::task::yield_now().await;
            Ok::<_, Error>(TenantContext::current())
        })
        .await
        .unwrap();
        assert_eq!(seen, Some(tid("acme")));
        assert_eq!(TenantContext::current(), None);
        assert_eq!(TenantContext::scoped(), None);
    }

    #[tokio::test]
    async fn scope_is_infallible_and_returns_the_output() {
        let out = TenantContext::scope(tid("acme"), async {
            TenantContext::scoped().map(|t| t.to_string())
        })
        .await;
        assert_eq!(out.as_deref(), Some("acme"));
    }

    #[tokio::test]
    async fn invalid_id_is_rejected_and_future_never_polled() {
        let polled = Arc::new(AtomicBool::new(false));
        for bad in ["", "a#b", "[x]", "a b", "a\0"] {
            let flag = polled.clone();
            let result = TenantContext::run_with_tenant(bad, async move {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            })
            .await;
            assert!(
                matches!(result, Err(Error::InvalidTenantId { .. })),
                "{bad:?}: {result:?}"
            );
            let flag = polled.clone();
            let result = TenantContext::with_tenant(bad, async move {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            })
            .await;
            assert!(matches!(result, Err(Error::InvalidTenantId { .. })));
        }
        assert!(!polled.load(Ordering::SeqCst));
    }

    #[derive(Debug)]
    enum AppError {
        Db(Error),
        Other(&'static str),
    }

    impl From<Error> for AppError {
        fn from(e: Error) -> Self {
            AppError::Db(e)
        }
    }

    #[tokio::test]
    async fn works_with_the_callers_error_type() {
        let r: Result<(), AppError> =
            TenantContext::run_with_tenant("bad#", async { Ok(()) }).await;
        assert!(matches!(
            r,
            Err(AppError::Db(Error::InvalidTenantId { .. }))
        ));

        let r: Result<(), AppError> = TenantContext::run_with_tenant("acme", async {
            let t = TenantContext::resolve().await?;
            assert_eq!(t, "acme");
            Err(AppError::Other("boom"))
        })
        .await;
        assert!(matches!(r, Err(AppError::Other("boom"))));
    }

    #[tokio::test]
    async fn with_tenant_nests_and_restores() {
        let r = TenantContext::run_with_tenant("outer", async {
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));
            let inner = TenantContext::with_tenant("inner", async {
                tokio::task::yield_now().await;
                let deeper = TenantContext::with_tenant(tid("deeper"), async {
                    Ok::<_, Error>(TenantContext::scoped())
                })
                .await?;
                assert_eq!(deeper, Some(tid("deeper")));
                Ok::<_, Error>(TenantContext::scoped())
            })
            .await?;
            assert_eq!(inner, Some(tid("inner")));
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));
            Ok::<_, Error>(())
        })
        .await;
        assert!(r.is_ok());
    }

    #[tokio::test]
    async fn with_tenant_restores_outer_after_error() {
        let r = TenantContext::run_with_tenant("outer", async {
            let inner: Result<(), Error> = TenantContext::with_tenant("inner", async {
                tokio::task::yield_now().await;
                Err(Error::TenantRequired)
            })
            .await;
            assert!(matches!(inner, Err(Error::TenantRequired)));
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));
            // An invalid override is an error too, and changes nothing.
            let bad = TenantContext::with_tenant("in ner", async { Ok::<_, Error>(()) }).await;
            assert!(bad.is_err());
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));
            Ok::<_, Error>(())
        })
        .await;
        assert!(r.is_ok());
    }

    /// Records the scoped tenant at the moment it is dropped.
    struct DropProbe(Arc<Mutex<Option<Option<TenantId>>>>);

    impl Drop for DropProbe {
        fn drop(&mut self) {
            let seen = TenantContext::scoped();
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(seen);
            }
        }
    }

    #[tokio::test]
    async fn with_tenant_restores_outer_after_cancellation() {
        let dropped_under = Arc::new(Mutex::new(None));
        let probe_slot = dropped_under.clone();
        TenantContext::scope(tid("outer"), async move {
            let probe = DropProbe(probe_slot);
            let override_fut = TenantContext::with_tenant("inner", async move {
                let _probe = probe;
                assert_eq!(TenantContext::scoped(), Some(tid("inner")));
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            });
            // Poll once (it parks on `pending`), then drop it: a cancellation.
            assert!(override_fut.now_or_never().is_none());
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));

            // Same through a timeout, the usual way cancellation happens.
            let timed = tokio::time::timeout(
                std::time::Duration::from_millis(5),
                TenantContext::with_tenant("inner", async {
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                }),
            )
            .await;
            assert!(timed.is_err());
            assert_eq!(TenantContext::scoped(), Some(tid("outer")));
        })
        .await;
        // The cancelled future's state was dropped inside its own scope.
        let seen = dropped_under.lock().unwrap().clone();
        assert_eq!(seen, Some(Some(tid("inner"))));
    }

    #[tokio::test]
    async fn dropping_unpolled_or_finished_scopes_does_not_panic() {
        let unpolled = TenantContext::with_tenant("acme", async { Ok::<_, Error>(()) });
        drop(unpolled);
        let unpolled = TenantContext::scope(tid("acme"), async {});
        drop(unpolled);
        let mut pending = Box::pin(TenantContext::run_with_tenant("acme", async {
            tokio::task::yield_now().await;
            Ok::<_, Error>(())
        }));
        assert!((&mut pending).now_or_never().is_none());
        drop(pending);
        assert_eq!(TenantContext::scoped(), None);
    }

    #[tokio::test]
    async fn fallback_set_clear_and_validation() {
        let _g = global_test_lock();
        assert_eq!(TenantContext::current(), None);
        TenantContext::set_current_tenant("script").unwrap();
        assert_eq!(TenantContext::current(), Some(tid("script")));
        assert_eq!(TenantContext::scoped(), None);

        let err = TenantContext::set_current_tenant("bad#id").unwrap_err();
        assert!(matches!(err, Error::InvalidTenantId { .. }));
        assert_eq!(TenantContext::current(), Some(tid("script")));

        let other = tid("other");
        TenantContext::set_current_tenant(&other).unwrap();
        assert_eq!(other, "other", "a borrowed TenantId is accepted");
        assert_eq!(TenantContext::resolve().await.unwrap(), "other");
        TenantContext::clear_tenant();
        assert_eq!(TenantContext::current(), None);
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
    }

    #[tokio::test]
    async fn lookup_order_scope_then_fallback_then_resolvers() {
        let _g = global_test_lock();
        TenantContext::add_resolver(resolver_fn(|| Ok(Some(tid("from-resolver")))));
        TenantContext::set_current_tenant("from-fallback").unwrap();

        let scoped = TenantContext::run_with_tenant("from-scope", TenantContext::resolve()).await;
        assert_eq!(scoped.unwrap(), "from-scope");
        assert_eq!(
            TenantContext::current(),
            Some(tid("from-fallback")),
            "current() sees the fallback outside a scope"
        );
        assert_eq!(TenantContext::resolve().await.unwrap(), "from-fallback");

        TenantContext::clear_tenant();
        assert_eq!(
            TenantContext::current(),
            None,
            "current() never asks resolvers"
        );
        assert_eq!(TenantContext::resolve().await.unwrap(), "from-resolver");

        TenantContext::clear_resolvers();
        assert!(matches!(
            TenantContext::resolve().await,
            Err(Error::TenantRequired)
        ));
    }

    #[tokio::test]
    async fn scope_wins_even_when_resolver_would_fail() {
        let _g = global_test_lock();
        TenantContext::add_resolver(resolver_fn(|| Err(Error::TenantRequired)));
        let r = TenantContext::run_with_tenant("acme", TenantContext::resolve()).await;
        assert_eq!(r.unwrap(), "acme");
    }

    #[test]
    fn poisoned_fallback_lock_is_recovered() {
        let _g = global_test_lock();
        let poisoner = std::thread::spawn(|| {
            let _w = FALLBACK.write();
            panic!("poison the fallback lock (expected in this test)");
        });
        assert!(poisoner.join().is_err());
        assert!(FALLBACK.is_poisoned());
        TenantContext::set_current_tenant("acme").unwrap();
        assert_eq!(TenantContext::current(), Some(tid("acme")));
        TenantContext::clear_tenant();
        assert_eq!(TenantContext::current(), None);
    }

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let f = TenantContext::run_with_tenant("acme", async { Ok::<_, Error>(()) });
        assert_send(&f);
        let f = TenantContext::with_tenant("acme", async { Ok::<_, Error>(()) });
        assert_send(&f);
        let f = TenantContext::scope(tid("acme"), async {});
        assert_send(&f);
        let f = TenantContext::resolve();
        assert_send(&f);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn thousand_tasks_over_twenty_tenants_each_see_their_own() {
        let tenants: Vec<TenantId> = (0..20).map(|i| tid(&format!("tenant-{i}"))).collect();
        let mut handles = Vec::with_capacity(1000);
        for n in 0..1000 {
            let mine = tenants[n % tenants.len()].clone();
            handles.push(tokio::spawn(TenantContext::run_with_tenant(
                mine.clone(),
                async move {
                    for _ in 0..5 {
                        tokio::task::yield_now().await;
                        if TenantContext::current().as_ref() != Some(&mine) {
                            return Ok(false);
                        }
                    }
                    Ok::<_, Error>(TenantContext::resolve().await? == mine)
                },
            )));
        }
        for h in handles {
            assert!(h.await.unwrap().unwrap(), "a task saw another tenant");
        }
    }
}
