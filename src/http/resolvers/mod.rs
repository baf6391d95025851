//! Request resolvers: each finds the tenant in one place of an HTTP request. The table of
//! resolvers and what their answers mean is in the [`http`](crate::http) module docs.
//!
//! This module holds the [`RequestResolver`] trait and the helpers the resolvers share; each
//! resolver lives in a submodule: `request` (header, query parameter), `path`, `host`
//! (subdomain, custom domain), `api_key`, `claim` (claims of a verified identity) and `closure`
//! ([`request_resolver_fn`]).

use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;
use http::{HeaderMap, HeaderName};

use super::Rejection;
use crate::tenant::TenantId;

/// Gives a resolver that is claimed unless made verified (its `trust` field, set to
/// [`Trust::Claimed`] by its constructors) the builder `verified`, documented by the doc comment
/// passed in, and implements [`RequestResolver`] for it: `name` is `$name`, `trust` its `trust`
/// field, `folds_case` the given function of the resolver, and `resolve` its inherent `find`.
macro_rules! claimed_resolver {
    ($(#[$doc:meta])* $resolver:ident, $name:literal) => {
        claimed_resolver!($(#[$doc])* $resolver, $name, folds_case = |_: &Self| false);
    };
    ($(#[$doc:meta])* $resolver:ident, $name:literal, folds_case = $folds:expr) => {
        impl $resolver {
            $(#[$doc])*
            pub fn verified(mut self) -> Self {
                self.trust = $crate::http::Trust::Verified;
                self
            }
        }

        impl $crate::http::RequestResolver for $resolver {
            fn name(&self) -> &'static str {
                $name
            }

            fn trust(&self) -> $crate::http::Trust {
                self.trust
            }

            fn folds_case(&self) -> bool {
                let folds: fn(&Self) -> bool = $folds;
                folds(self)
            }

            fn resolve<'a>(
                &'a self,
                request: &'a ::http::request::Parts,
            ) -> $crate::http::ResolveFuture<'a> {
                self.find(request)
            }
        }
    };
}

mod api_key;
mod claim;
mod closure;
mod host;
mod path;
mod request;

pub use api_key::ApiKeyResolver;
pub use claim::{ClaimResolver, Claims, VerifiedClaims};
pub use closure::{request_resolver_fn, FnRequestResolver};
pub use host::{DomainResolver, SubdomainResolver};
pub use path::PathResolver;
pub use request::{HeaderResolver, QueryResolver};

#[cfg(feature = "lambda")]
pub(crate) use claim::{claim_tenant, json_claim};

/// The future a [`RequestResolver`] returns.
pub type ResolveFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<TenantId>, Rejection>> + Send + 'a>>;

/// Whether a resolver's answer was chosen by the client or comes from a verified credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trust {
    /// Named by the client (a header, the query, the path, the host): the layer checks it
    /// against the authenticated principal with its authorizer before using it.
    Claimed,
    /// Taken from a credential already verified (an API key looked up, a JWT verified by
    /// middleware or API Gateway): used as is.
    Verified,
}

/// Finds the tenant of an HTTP request, as one link of a [`TenantLayer`](super::TenantLayer)'s
/// chain.
///
/// A resolver sees the request head (`http::request::Parts`: method, URI, headers, and the
/// extensions earlier middleware or `lambda_http` put there), never the body. See the
/// [`http` module docs](crate::http) for what each answer means.
pub trait RequestResolver: Send + Sync + 'static {
    /// A short name for traces (`header`, `subdomain`, ...), recorded on the request's span.
    fn name(&self) -> &'static str;

    /// Whether the tenant this resolver finds must be authorized. The default,
    /// [`Trust::Claimed`], is the safe one.
    fn trust(&self) -> Trust {
        Trust::Claimed
    }

    /// Looks for the tenant in `request`.
    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a>;

    /// Whether this resolver reads a case-insensitive source and folds it to lowercase (the
    /// host, for [`SubdomainResolver`]), so that it can only name lowercase tenant ids. A
    /// [`TenantLayer`](super::TenantLayer) with such a resolver accepts lowercase tenant ids
    /// only, from every resolver, so that two ids differing only by case are never both usable
    /// behind it. The default is `false`.
    fn folds_case(&self) -> bool {
        false
    }
}

/// Implements [`RequestResolver`] for smart pointers to a resolver, by forwarding to it.
macro_rules! forward_to_pointee {
    ($($pointer:ident),*) => {$(
        impl<R: RequestResolver + ?Sized> RequestResolver for $pointer<R> {
            fn name(&self) -> &'static str {
                (**self).name()
            }

            fn trust(&self) -> Trust {
                (**self).trust()
            }

            fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
                (**self).resolve(request)
            }

            fn folds_case(&self) -> bool {
                (**self).folds_case()
            }
        }
    )*};
}

forward_to_pointee!(Arc, Box);

/// A future that is ready with `result`.
fn done<'a>(result: Result<Option<TenantId>, Rejection>) -> ResolveFuture<'a> {
    Box::pin(ready(result))
}

/// Validates a value the request carries into a tenant id; an invalid one rejects the request.
fn tenant(value: &str) -> Result<Option<TenantId>, Rejection> {
    TenantId::new(value).map(Some).map_err(Rejection::from)
}

/// [`tenant`] of a value the request may not carry: no value, no answer.
fn tenant_if_any(value: Option<&str>) -> Result<Option<TenantId>, Rejection> {
    value.map_or(Ok(None), tenant)
}

/// The rejection for a value given more than once (`?tenant_id=a&tenant_id=b`), which could
/// otherwise be read differently by a proxy and by the service.
const TWICE: Rejection = Rejection::InvalidTenantId {
    reason: "the tenant is given more than once",
};

/// The only value of header `name`: `Ok(None)` when absent, an error when repeated or not
/// visible ASCII.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TWICE);
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| Rejection::InvalidTenantId {
            reason: "the value is not visible ASCII",
        })
}

/// Percent-decodes `s` (and `+` as a space when `plus_is_space`); `None` for a malformed escape
/// or bytes that are not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}
