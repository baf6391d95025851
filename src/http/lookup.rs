//! [`TenantLookup`]: maps a value a request carries (a custom domain, an API key, a machine
//! client's id) to the tenant it belongs to.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Rejection;
use crate::tenant::TenantId;

/// The future a [`TenantLookup`] returns.
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<TenantId>, Rejection>> + Send + 'a>>;

/// An async map from a value to the tenant it belongs to: a custom domain to its tenant
/// ([`DomainResolver`](super::DomainResolver)), an API key to its tenant
/// ([`ApiKeyResolver`](super::ApiKeyResolver)), a machine client's `client_id` to its account's
/// tenant ([`ClaimResolver::mapped`](super::ClaimResolver::mapped)).
///
/// Answer `Ok(Some(tenant))` for a known value, `Ok(None)` for an unknown one (each resolver
/// says what that means for the request), and `Err` when the lookup could not be done (a
/// registry that is down: [`Rejection::internal`]). Implemented for `HashMap<String, TenantId>`
/// and `BTreeMap<String, TenantId>` (fixed tables, tests) and by [`lookup_fn`] for closures.
///
/// The value may be a secret (an API key): an implementation must not log it.
pub trait TenantLookup: Send + Sync + 'static {
    /// The tenant `value` belongs to, if any.
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a>;
}

impl<L: TenantLookup + ?Sized> TenantLookup for Arc<L> {
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        (**self).lookup(value)
    }
}

impl<L: TenantLookup + ?Sized> TenantLookup for Box<L> {
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        (**self).lookup(value)
    }
}

impl<S: std::hash::BuildHasher + Send + Sync + 'static> TenantLookup
    for HashMap<String, TenantId, S>
{
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        let found = self.get(value).cloned();
        Box::pin(async move { Ok(found) })
    }
}

impl TenantLookup for BTreeMap<String, TenantId> {
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        let found = self.get(value).cloned();
        Box::pin(async move { Ok(found) })
    }
}

/// A lookup made from a closure; built by [`lookup_fn`].
pub struct FnLookup<F> {
    /// Called once per lookup with the value; its future is awaited.
    f: F,
}

/// Makes a [`TenantLookup`] from a closure that takes the value (owned, so the future may keep
/// it) and returns a future of the answer: a tenant registry in DynamoDB, a cache, a call to
/// an accounts service.
///
/// ```
/// use dynabao::http::{lookup_fn, Rejection};
/// use dynabao::tenant::TenantId;
///
/// let domains = lookup_fn(|host: String| async move {
///     Ok::<_, Rejection>(match host.as_str() {
///         "billing.acme.com" => Some(TenantId::new("acme")?),
///         _ => None,
///     })
/// });
/// # let _ = domains;
/// ```
pub fn lookup_fn<F, Fut>(f: F) -> FnLookup<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<TenantId>, Rejection>> + Send + 'static,
{
    FnLookup { f }
}

impl<F, Fut> TenantLookup for FnLookup<F>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<TenantId>, Rejection>> + Send + 'static,
{
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        Box::pin((self.f)(value.to_owned()))
    }
}

impl<F> fmt::Debug for FnLookup<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnLookup")
    }
}
