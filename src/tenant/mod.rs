//! Tenancy: who the current tenant is, and how it is found.
//!
//! Every tenant-scoped operation in dynabao asks [`TenantContext::resolve`] for the tenant
//! before it builds a key, and fails closed with [`Error::TenantRequired`](crate::Error) when
//! there is none. The lookup order is:
//!
//! 1. the **scoped** tenant, set for one future by [`TenantContext::run_with_tenant`] (or
//!    [`TenantContext::with_tenant`] / [`TenantContext::scope`]); it lives in a tokio task-local,
//!    so concurrent requests on one runtime never see each other's tenant;
//! 2. the **process-wide fallback**, set by [`TenantContext::set_current_tenant`] (scripts and
//!    tests only);
//! 3. the **resolver chain**, added with [`TenantContext::add_resolver`], asked in order; the
//!    first resolver that answers wins, and a resolver error stops the chain and is returned.
//!
//! Tenant ids are validated once, into [`TenantId`]; everything past that point takes a
//! `TenantId` (or [`impl IntoTenantId`](IntoTenantId)), never a raw string.
//!
//! A tenant does not travel into [`tokio::spawn`] or [`tokio::task::spawn_local`] by itself: a
//! bare spawn has no tenant and so fails closed. Carry it explicitly with [`spawn_in_tenant`],
//! [`spawn_local_in_tenant`] or [`InCurrentTenant::in_current_tenant`].
//!
//! # Where a future can leave its scope
//!
//! A scope belongs to the tokio task that polls it: it is set for each poll of the scoped
//! future, and a lookup counts it only from that same task. An operation (every dynabao
//! builder and `async fn`) resolves its tenant when it is first polled, not when it is built,
//! and keeps it until it completes (a [`stream`](crate::ops::Query::stream) keeps the tenant of
//! its first page for the whole walk).
//!
//! | the future runs through | the tenant it sees |
//! |---|---|
//! | `.await`, `join!`/`select!`, `futures::join_all`, `FuturesUnordered`, `LocalSet::run_until`, `block_in_place`: polled by the same task | the scope around it, at each poll |
//! | `tokio::spawn`, `JoinSet::spawn`, `Handle::spawn` | none: fails closed. Use [`spawn_in_tenant`] or [`in_current_tenant`](InCurrentTenant::in_current_tenant) |
//! | `tokio::task::spawn_local`, `JoinSet::spawn_local`, `LocalSet::spawn_local` | none, also when the `LocalSet` is driven inside a scope (its tasks are other tasks). Use [`spawn_local_in_tenant`] or [`in_current_tenant`](InCurrentTenant::in_current_tenant) |
//! | `spawn_blocking`, `std::thread::spawn`, a thread pool | none (another thread). Capture [`TenantContext::scoped`] first and scope what runs there again ([`TenantContext::run_with_tenant`] inside `Handle::block_on`) |
//! | a future handed to another task: a channel of jobs, `futures::future::Shared`, a stored `JoinHandle`'s work | the scope of whichever task polls it first, since operations bind at their first poll; bind it where it is made with [`in_current_tenant`](InCurrentTenant::in_current_tenant) |
//!
//! In every "none" case only the scope is missing: the process-wide fallback and the resolver
//! chain are still asked, as anywhere without a scope.

mod context;
mod id;
mod resolver;
mod spawn;
mod tenancy;

pub use context::TenantContext;
pub use id::{IntoTenantId, TenantId, MAX_TENANT_ID_LEN};
pub use resolver::{
    async_resolver_fn, resolver_error, resolver_fn, AsyncFnResolver, FnResolver, ResolveFuture,
    TenantResolver,
};
pub use spawn::{spawn_in_tenant, spawn_local_in_tenant, InCurrentTenant, InTenant};
pub use tenancy::Tenancy;

/// Serialises unit tests that touch the process-wide fallback or the resolver chain.
///
/// Unit tests run in parallel threads of one process, and those two are process-wide. Every
/// test that sets or reads them (including through [`TenantContext::current`] or
/// [`TenantContext::resolve`] outside a scope) must hold this guard. The guard clears the
/// fallback and the resolver chain when it is taken and again when it is dropped (also when the
/// test panics), so each test starts and leaves with both empty. A poisoned lock (a test that
/// panicked while holding it) is recovered, not propagated.
#[cfg(test)]
pub(crate) fn global_test_lock() -> GlobalTestGuard {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    TenantContext::clear_tenant();
    TenantContext::clear_resolvers();
    GlobalTestGuard { _guard: guard }
}

/// Held by a test while it uses the process-wide tenant state; see [`global_test_lock`].
#[cfg(test)]
pub(crate) struct GlobalTestGuard {
    _guard: std::sync::MutexGuard<'static, ()>,
}

#[cfg(test)]
impl Drop for GlobalTestGuard {
    fn drop(&mut self) {
        TenantContext::clear_tenant();
        TenantContext::clear_resolvers();
    }
}
