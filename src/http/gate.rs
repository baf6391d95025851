//! [`TenantGate`]: a check of the resolved tenant itself (does it exist, is it in service)
//! before the request runs.

use std::future::Future;
use std::pin::Pin;

use http::Extensions;

use super::Rejection;
use crate::tenant::TenantId;

/// The future a [`TenantGate`] returns.
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Rejection>> + Send + 'a>>;

/// Admits or refuses a request's tenant once it is resolved and authorized, before the handler
/// runs: a registry that knows which tenants exist and which are suspended
/// (`dynabao::http::RegistryGate`, features `http` and `registry`), or your own check.
///
/// It may put what it learned into the request's extensions (the tenant's record, say), so the
/// handler reads it without asking again. Refuse with a [`Rejection`]
/// ([`TenantNotFound`](Rejection::TenantNotFound),
/// [`TenantSuspended`](Rejection::TenantSuspended), ...).
pub trait TenantGate: Send + Sync + 'static {
    /// Admits `tenant` (`Ok`), or refuses the request.
    fn admit<'a>(&'a self, tenant: &'a TenantId, extensions: &'a mut Extensions) -> GateFuture<'a>;
}

impl<G: TenantGate + ?Sized> TenantGate for std::sync::Arc<G> {
    fn admit<'a>(&'a self, tenant: &'a TenantId, extensions: &'a mut Extensions) -> GateFuture<'a> {
        (**self).admit(tenant, extensions)
    }
}
