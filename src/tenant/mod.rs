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
//! A tenant does not travel into [`tokio::spawn`] by itself: a bare spawn has no tenant and so
//! fails closed. Carry it explicitly with [`spawn_in_tenant`] or
//! [`InCurrentTenant::in_current_tenant`].

mod context;
mod id;
mod resolver;
mod spawn;

pub use context::TenantContext;
pub use id::{IntoTenantId, TenantId, MAX_TENANT_ID_LEN};
pub use resolver::{
    async_resolver_fn, resolver_error, resolver_fn, AsyncFnResolver, FnResolver, ResolveFuture,
    TenantResolver,
};
pub use spawn::{spawn_in_tenant, InCurrentTenant, InTenant};

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
