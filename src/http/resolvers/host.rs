//! Resolvers of the request's host: a subdomain of a base domain ([`SubdomainResolver`]) or a
//! custom domain ([`DomainResolver`]).

use std::fmt;
use std::sync::Arc;

use http::header::HOST;
use http::request::Parts;

use super::{done, single_header, tenant, ResolveFuture};
use crate::http::{Rejection, TenantLookup, Trust};
use crate::Error;

/// The request's host, lowercased, without port or trailing dot: the `Host` header, else the
/// URI's authority (HTTP/2). `Ok(None)` when there is none or it is an IP literal; an error when
/// `Host` is repeated or not ASCII.
///
/// `X-Forwarded-Host` is not read: behind a proxy that rewrites `Host`, wrap the layer with
/// middleware that restores it from a header the proxy sets.
pub(crate) fn request_host(request: &Parts) -> Result<Option<String>, Rejection> {
    let raw = match single_header(&request.headers, &HOST)? {
        Some(h) => h,
        None => match request.uri.host() {
            Some(h) => h,
            None => return Ok(None),
        },
    };
    if raw.starts_with('[') {
        return Ok(None); // an IPv6 literal has no subdomain and is no custom domain
    }
    let host = raw.split(':').next().unwrap_or_default();
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(None);
    }
    Ok(Some(host))
}

// ---------------------------------------------------------------------------------------------
// Subdomain

/// The tenant from the first label of the host under a base domain: with base `example.com`,
/// `acme.example.com` is tenant `acme`. Claimed.
///
/// The host is lowercased (DNS names are case-insensitive), so this resolver only ever names
/// lowercase tenant ids, while tenant ids themselves are case-sensitive: tenants reached by
/// subdomain need lowercase ids. It [folds case](crate::http::RequestResolver::folds_case), so a
/// [`TenantLayer`](crate::http::TenantLayer) that has it accepts lowercase ids only, from every
/// source: `ACME.example.com` is tenant `acme`, and a header naming `Acme` behind the same
/// layer is `400 invalid_tenant_id`, never a second tenant. No answer for: the bare base domain, an ignored label (`www` by default),
/// a deeper name (`a.b.example.com`), another domain, an IP address, no host. A label that is
/// not a valid tenant id: `400 invalid_tenant_id`.
#[derive(Clone)]
pub struct SubdomainResolver {
    /// `.example.com`: the suffix a tenant host ends with.
    suffix: String,
    ignored: Vec<String>,
    trust: Trust,
    /// Maps the label to its tenant; without one, the label is the tenant id.
    lookup: Option<Arc<dyn TenantLookup>>,
}

impl fmt::Debug for SubdomainResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubdomainResolver")
            .field("suffix", &self.suffix)
            .field("ignored", &self.ignored)
            .field("trust", &self.trust)
            .field("lookup", &self.lookup.is_some())
            .finish()
    }
}

impl SubdomainResolver {
    /// Tenants are the subdomains of `base_domain` (`example.com`). [`Error::Config`] for an
    /// empty or malformed base domain.
    pub fn new(base_domain: &str) -> Result<Self, Error> {
        let base = base_domain
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if base.is_empty()
            || base.split('.').any(str::is_empty)
            || !base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(Error::Config(format!(
                "subdomain resolver: {base_domain:?} is not a domain name"
            )));
        }
        Ok(SubdomainResolver {
            suffix: format!(".{base}"),
            ignored: vec!["www".to_owned()],
            trust: Trust::Claimed,
            lookup: None,
        })
    }

    /// Maps the label to its tenant with `lookup` (a registry's
    /// [`subdomain_lookup`](crate::registry::TenantRegistry::subdomain_lookup), feature
    /// `registry`) instead of reading the label as the tenant id, so subdomains need not be
    /// tenant ids: `acme-corp.example.com` can be tenant `01JX..`. An unknown label gives no
    /// answer; a lookup that fails is `500 internal_error`. With a lookup the resolver no
    /// longer [folds case](crate::http::RequestResolver::folds_case): the ids come from the
    /// lookup, not from the host.
    pub fn lookup(mut self, lookup: impl TenantLookup) -> Self {
        self.lookup = Some(Arc::new(lookup));
        self
    }

    /// Also gives no answer for `label` (`api`, `app`, ...), besides `www`.
    pub fn ignore(mut self, label: &str) -> Self {
        self.ignored.push(label.to_ascii_lowercase());
        self
    }

    /// The subdomain label of the host, if it has one this resolver answers for.
    fn label(&self, request: &Parts) -> Result<Option<String>, Rejection> {
        let Some(host) = request_host(request)? else {
            return Ok(None);
        };
        Ok(match host.strip_suffix(self.suffix.as_str()) {
            Some(label)
                if !label.is_empty()
                    && !label.contains('.')
                    && !self.ignored.iter().any(|i| i == label) =>
            {
                Some(label.to_owned())
            }
            _ => None,
        })
    }

    /// The tenant in the host's subdomain.
    fn find<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        let label = match self.label(request) {
            Ok(Some(label)) => label,
            other => return done(other.map(|_| None)),
        };
        match &self.lookup {
            None => done(tenant(&label)),
            Some(lookup) => Box::pin(async move { lookup.lookup(&label).await }),
        }
    }
}

claimed_resolver! {
    /// Treats the host as verified; see
    /// [`HeaderResolver::verified`](crate::http::HeaderResolver::verified).
    SubdomainResolver, "subdomain", folds_case = |r: &Self| r.lookup.is_none()
}

// ---------------------------------------------------------------------------------------------
// Custom domain

/// The tenant of a custom domain (`billing.acme.com` → `acme`) through a [`TenantLookup`] of
/// the host (lowercased, without port). Claimed: the `Host` header is the client's to choose.
///
/// An unknown host: no answer. A lookup that fails: `500 internal_error` (logged).
#[derive(Clone)]
pub struct DomainResolver {
    lookup: Arc<dyn TenantLookup>,
    trust: Trust,
}

impl DomainResolver {
    /// Maps hosts to tenants with `lookup`.
    pub fn new(lookup: impl TenantLookup) -> Self {
        DomainResolver {
            lookup: Arc::new(lookup),
            trust: Trust::Claimed,
        }
    }

    /// The tenant the lookup maps the host to.
    fn find<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        Box::pin(async move {
            match request_host(request)? {
                Some(host) => self.lookup.lookup(&host).await,
                None => Ok(None),
            }
        })
    }
}

claimed_resolver! {
    /// Treats the host as verified; see
    /// [`HeaderResolver::verified`](crate::http::HeaderResolver::verified).
    DomainResolver, "domain"
}

impl fmt::Debug for DomainResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainResolver")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}
