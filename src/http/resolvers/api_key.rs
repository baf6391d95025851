//! [`ApiKeyResolver`]: the tenant an API key belongs to.

use std::fmt;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::request::Parts;
use http::HeaderName;

use super::{single_header, RequestResolver, ResolveFuture};
use crate::http::{Rejection, TenantLookup, Trust};

/// Where an [`ApiKeyResolver`] finds the key.
#[derive(Debug, Clone)]
enum KeySource {
    /// The whole value of this header.
    Header(HeaderName),
    /// `Authorization: Bearer <key>`.
    Bearer,
}

/// The tenant an API key belongs to, through a [`TenantLookup`] of the key. Verified: the key is
/// the credential.
///
/// The key is read from `X-API-Key` by default, or another header, or `Authorization: Bearer`.
/// No key (or, for `Bearer`, an `Authorization` header of another scheme): no answer. A key the
/// lookup does not know, a repeated or non-ASCII key: `401 unauthorized`. A lookup that fails:
/// `500 internal_error`. Keys are never logged, and never appear in errors or `Debug` output.
#[derive(Clone)]
pub struct ApiKeyResolver {
    lookup: Arc<dyn TenantLookup>,
    source: KeySource,
}

impl ApiKeyResolver {
    /// Maps keys from the `X-API-Key` header to tenants with `lookup`.
    pub fn new(lookup: impl TenantLookup) -> Self {
        ApiKeyResolver {
            lookup: Arc::new(lookup),
            source: KeySource::Header(HeaderName::from_static("x-api-key")),
        }
    }

    /// Reads the key from `header` instead.
    pub fn header(mut self, header: HeaderName) -> Self {
        self.source = KeySource::Header(header);
        self
    }

    /// Reads the key from `Authorization: Bearer <key>` instead.
    pub fn bearer(mut self) -> Self {
        self.source = KeySource::Bearer;
        self
    }
}

impl fmt::Debug for ApiKeyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyResolver")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The bearer token of an `Authorization` header value, if it uses that scheme.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl RequestResolver for ApiKeyResolver {
    fn name(&self) -> &'static str {
        "api_key"
    }

    fn trust(&self) -> Trust {
        Trust::Verified
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        Box::pin(async move {
            let header = match &self.source {
                KeySource::Header(name) => name,
                KeySource::Bearer => &AUTHORIZATION,
            };
            let value = match single_header(&request.headers, header) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(None),
                Err(_) => return Err(Rejection::Unauthorized),
            };
            let key = match &self.source {
                KeySource::Header(_) => Some(value.trim()).filter(|k| !k.is_empty()),
                KeySource::Bearer => bearer_token(value),
            };
            let Some(key) = key else {
                return match self.source {
                    KeySource::Bearer => Ok(None),
                    KeySource::Header(_) => Err(Rejection::Unauthorized),
                };
            };
            match self.lookup.lookup(key).await? {
                Some(tenant) => Ok(Some(tenant)),
                None => Err(Rejection::Unauthorized),
            }
        })
    }
}
