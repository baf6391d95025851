//! Authorizing a client-named tenant against the request's authenticated principal.

use std::fmt;
use std::future::{ready, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;

use super::Rejection;
use crate::tenant::TenantId;

/// The future a [`TenantAuthorizer`] returns.
pub type AuthorizeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Rejection>> + Send + 'a>>;

/// Decides whether a request may use a tenant its client named (a [claimed](super::Trust)
/// tenant: header, query, path, host), before the layer scopes the request to it.
///
/// The authorizer sees the request head, so it finds the principal wherever the service's
/// authentication left it, usually a typed value in the extensions
/// ([`authorize_principal`] does exactly that). Answer `Ok(())` to allow,
/// `Err(Rejection::Forbidden)` to deny (`403 tenant_forbidden`), `Err(Rejection::Unauthorized)`
/// when there is no principal to check (`401 unauthorized`), and
/// [`Rejection::internal`] when the check could not be made (`500`, logged).
pub trait TenantAuthorizer: Send + Sync + 'static {
    /// Allows or denies `tenant` for `request`.
    fn authorize<'a>(&'a self, request: &'a Parts, tenant: &'a TenantId) -> AuthorizeFuture<'a>;
}

impl<A: TenantAuthorizer + ?Sized> TenantAuthorizer for Arc<A> {
    fn authorize<'a>(&'a self, request: &'a Parts, tenant: &'a TenantId) -> AuthorizeFuture<'a> {
        (**self).authorize(request, tenant)
    }
}

impl<A: TenantAuthorizer + ?Sized> TenantAuthorizer for Box<A> {
    fn authorize<'a>(&'a self, request: &'a Parts, tenant: &'a TenantId) -> AuthorizeFuture<'a> {
        (**self).authorize(request, tenant)
    }
}

/// An authorizer over a typed principal in the request extensions; built by
/// [`authorize_principal`].
pub struct PrincipalAuthorizer<P, F> {
    f: F,
    _principal: PhantomData<fn(&P)>,
}

/// Authorizes against the principal of type `P` that authentication middleware put in the
/// request extensions (`request.extensions_mut().insert(principal)`), with an async check.
///
/// No `P` in the extensions: `401 unauthorized`. The check answers `Ok(true)` to allow,
/// `Ok(false)` to deny (`403 tenant_forbidden`), or a [`Rejection`]. The closure gets the
/// principal and tenant by reference and returns a future that owns what it needs (clone the
/// principal's id, or an `Arc` of a registry, into it).
///
/// ```
/// use std::collections::HashSet;
/// use dynabao::http::authorize_principal;
/// use dynabao::tenant::TenantId;
///
/// /// Put in the extensions by the service's authentication.
/// #[derive(Clone)]
/// struct Principal { tenants: HashSet<TenantId> }
///
/// let authorizer = authorize_principal(|principal: &Principal, tenant: &TenantId| {
///     let allowed = principal.tenants.contains(tenant);
///     async move { Ok(allowed) }
/// });
/// # let _ = authorizer;
/// ```
pub fn authorize_principal<P, F, Fut>(f: F) -> PrincipalAuthorizer<P, F>
where
    P: Send + Sync + 'static,
    F: Fn(&P, &TenantId) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, Rejection>> + Send + 'static,
{
    PrincipalAuthorizer {
        f,
        _principal: PhantomData,
    }
}

impl<P, F, Fut> TenantAuthorizer for PrincipalAuthorizer<P, F>
where
    P: Send + Sync + 'static,
    F: Fn(&P, &TenantId) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, Rejection>> + Send + 'static,
{
    fn authorize<'a>(&'a self, request: &'a Parts, tenant: &'a TenantId) -> AuthorizeFuture<'a> {
        let Some(principal) = request.extensions.get::<P>() else {
            return Box::pin(ready(Err(Rejection::Unauthorized)));
        };
        let check = (self.f)(principal, tenant);
        Box::pin(async move {
            if check.await? {
                Ok(())
            } else {
                Err(Rejection::Forbidden)
            }
        })
    }
}

impl<P, F> fmt::Debug for PrincipalAuthorizer<P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalAuthorizer")
            .field("principal", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}
