//! [`request_resolver_fn`]: a resolver made from a closure.

use std::fmt;

use http::request::Parts;

use super::{done, RequestResolver, ResolveFuture};
use crate::http::{Rejection, Trust};
use crate::tenant::TenantId;

/// A resolver made from a synchronous closure over the request head; built by
/// [`request_resolver_fn`].
pub struct FnRequestResolver<F> {
    name: &'static str,
    trust: Trust,
    f: F,
}

/// Makes a resolver from a closure, for a place the built-in resolvers do not cover. Declare
/// its trust honestly: [`Trust::Claimed`] unless the value comes from a verified credential.
///
/// ```
/// use dynabao::http::{request_resolver_fn, Trust};
/// use dynabao::tenant::TenantId;
///
/// // A tenant in a cookie is the client's to choose: claimed.
/// let cookie = request_resolver_fn("cookie", Trust::Claimed, |request| {
///     let cookies = request.headers.get("cookie").and_then(|v| v.to_str().ok());
///     match cookies.and_then(|c| c.split("; ").find_map(|kv| kv.strip_prefix("tenant="))) {
///         Some(id) => Ok(Some(TenantId::new(id)?)),
///         None => Ok(None),
///     }
/// });
/// # let _ = cookie;
/// ```
pub fn request_resolver_fn<F>(name: &'static str, trust: Trust, f: F) -> FnRequestResolver<F>
where
    F: Fn(&Parts) -> Result<Option<TenantId>, Rejection> + Send + Sync + 'static,
{
    FnRequestResolver { name, trust, f }
}

impl<F> RequestResolver for FnRequestResolver<F>
where
    F: Fn(&Parts) -> Result<Option<TenantId>, Rejection> + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done((self.f)(request))
    }
}

impl<F> fmt::Debug for FnRequestResolver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnRequestResolver")
            .field("name", &self.name)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}
