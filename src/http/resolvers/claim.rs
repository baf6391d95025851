//! [`ClaimResolver`]: the tenant from a claim of an identity earlier middleware verified.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::request::Parts;

use super::{tenant, RequestResolver, ResolveFuture};
use crate::http::{Rejection, TenantLookup, Trust};
use crate::tenant::TenantId;

/// Claims of an identity that earlier middleware has verified (a JWT whose signature, issuer,
/// audience and expiry were checked), as [`ClaimResolver`] reads them from the request
/// extensions.
///
/// Implemented for [`VerifiedClaims`] and `HashMap<String, String>`; implement it for your own
/// claims struct to use it directly.
pub trait Claims: Send + Sync + 'static {
    /// The claim `name` as text: `None` when absent, `Some(Err(reason))` when present but not a
    /// string (integers are given as their decimal text).
    fn claim(&self, name: &str) -> Option<Result<Cow<'_, str>, &'static str>>;
}

/// A verified identity's claims as JSON, for middleware to put in the request extensions
/// (`request.extensions_mut().insert(VerifiedClaims(claims))`) *after* it has verified the
/// token. [`ClaimResolver`] trusts whatever is there: never insert unverified claims.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifiedClaims(pub serde_json::Map<String, serde_json::Value>);

/// A JSON claim value as text: strings and integers; anything else is malformed.
pub(crate) fn json_claim(value: &serde_json::Value) -> Result<Cow<'_, str>, &'static str> {
    match value {
        serde_json::Value::String(s) => Ok(Cow::Borrowed(s)),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Cow::Owned(n.to_string())),
        _ => Err("the tenant claim is not a string"),
    }
}

impl Claims for VerifiedClaims {
    fn claim(&self, name: &str) -> Option<Result<Cow<'_, str>, &'static str>> {
        self.0.get(name).map(json_claim)
    }
}

impl<S: std::hash::BuildHasher + Send + Sync + 'static> Claims for HashMap<String, String, S> {
    fn claim(&self, name: &str) -> Option<Result<Cow<'_, str>, &'static str>> {
        self.get(name).map(|v| Ok(Cow::Borrowed(v.as_str())))
    }
}

/// Turns a verified claim into the tenant: directly (the claim is the tenant id) or through a
/// lookup (a machine client's id mapped to its account's tenant).
pub(crate) async fn claim_tenant(
    value: Option<Result<Cow<'_, str>, &'static str>>,
    lookup: Option<&dyn TenantLookup>,
) -> Result<Option<TenantId>, Rejection> {
    let value = match value {
        None => return Ok(None),
        Some(Err(reason)) => return Err(Rejection::InvalidTenantId { reason }),
        Some(Ok(v)) => v,
    };
    match lookup {
        None => tenant(&value),
        Some(lookup) => match lookup.lookup(&value).await? {
            Some(t) => Ok(Some(t)),
            None => Err(Rejection::Forbidden),
        },
    }
}

/// The tenant from a claim of a verified identity that earlier middleware put in the request
/// extensions as a `C` ([`VerifiedClaims`] by default). Verified.
///
/// - [`ClaimResolver::new`]: the claim is the tenant id (`tenant_id`, `custom:tenant_id`).
/// - [`ClaimResolver::mapped`]: the claim maps to the tenant through a [`TenantLookup`] (a
///   machine client's `client_id` to its account's tenant); an id the lookup does not know is
///   `403 tenant_forbidden`.
///
/// No `C` in the extensions, or no such claim: no answer. A claim that is not a string, or not a
/// valid tenant id: `400 invalid_tenant_id`.
pub struct ClaimResolver<C = VerifiedClaims> {
    claim: String,
    lookup: Option<Arc<dyn TenantLookup>>,
    _claims: PhantomData<fn(&C)>,
}

impl<C: Claims> ClaimResolver<C> {
    /// The claim `claim` is the tenant id.
    pub fn new(claim: impl Into<String>) -> Self {
        ClaimResolver {
            claim: claim.into(),
            lookup: None,
            _claims: PhantomData,
        }
    }

    /// The claim `claim` maps to the tenant through `lookup`.
    pub fn mapped(claim: impl Into<String>, lookup: impl TenantLookup) -> Self {
        ClaimResolver {
            claim: claim.into(),
            lookup: Some(Arc::new(lookup)),
            _claims: PhantomData,
        }
    }
}

impl<C> Clone for ClaimResolver<C> {
    fn clone(&self) -> Self {
        ClaimResolver {
            claim: self.claim.clone(),
            lookup: self.lookup.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> fmt::Debug for ClaimResolver<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimResolver")
            .field("claim", &self.claim)
            .field("mapped", &self.lookup.is_some())
            .finish()
    }
}

impl<C: Claims> RequestResolver for ClaimResolver<C> {
    fn name(&self) -> &'static str {
        "claim"
    }

    fn trust(&self) -> Trust {
        Trust::Verified
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        Box::pin(async move {
            let Some(claims) = request.extensions.get::<C>() else {
                return Ok(None);
            };
            claim_tenant(claims.claim(&self.claim), self.lookup.as_deref()).await
        })
    }
}
