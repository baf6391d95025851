//! Request resolvers: each finds the tenant in one place of an HTTP request. The table of
//! resolvers and what their answers mean is in the [`http`](crate::http) module docs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::{ready, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use http::header::{AUTHORIZATION, HOST};
use http::request::Parts;
use http::{HeaderMap, HeaderName};

use super::{Rejection, TenantLookup};
use crate::tenant::TenantId;
use crate::Error;

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
}

impl<R: RequestResolver + ?Sized> RequestResolver for Arc<R> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn trust(&self) -> Trust {
        (**self).trust()
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        (**self).resolve(request)
    }
}

impl<R: RequestResolver + ?Sized> RequestResolver for Box<R> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn trust(&self) -> Trust {
        (**self).trust()
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        (**self).resolve(request)
    }
}

/// A future that is ready with `result`.
fn done<'a>(result: Result<Option<TenantId>, Rejection>) -> ResolveFuture<'a> {
    Box::pin(ready(result))
}

/// Validates a value the request carries into a tenant id; an invalid one rejects the request.
fn tenant(value: &str) -> Result<Option<TenantId>, Rejection> {
    TenantId::new(value).map(Some).map_err(Rejection::from)
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

// ---------------------------------------------------------------------------------------------
// Header

/// The tenant from a request header, `X-Tenant-ID` by default. Claimed.
///
/// Absent: no answer. Present but invalid, or present twice: `400 invalid_tenant_id`.
#[derive(Debug, Clone)]
pub struct HeaderResolver {
    header: HeaderName,
    trust: Trust,
}

impl HeaderResolver {
    /// Reads `header` (build it with `HeaderName::from_static("x-org-id")`).
    pub fn new(header: HeaderName) -> Self {
        HeaderResolver {
            header,
            trust: Trust::Claimed,
        }
    }

    /// Treats the header as verified, skipping the authorizer.
    ///
    /// Only for a header that a proxy in front of the service sets from its own authentication
    /// *and* strips from client requests (an API gateway mapping an authorizer's context into a
    /// header). A header a client can send is never verified.
    pub fn verified(mut self) -> Self {
        self.trust = Trust::Verified;
        self
    }

    /// The header read.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }
}

impl Default for HeaderResolver {
    /// `X-Tenant-ID`, claimed.
    fn default() -> Self {
        HeaderResolver::new(HeaderName::from_static("x-tenant-id"))
    }
}

impl RequestResolver for HeaderResolver {
    fn name(&self) -> &'static str {
        "header"
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(match single_header(&request.headers, &self.header) {
            Ok(Some(value)) => tenant(value),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Query

/// The tenant from a query parameter, `tenant_id` by default. Claimed.
///
/// The value is percent-decoded (`+` is a space) and then validated. Absent: no answer. Present
/// but invalid (empty, badly encoded), or present twice: `400 invalid_tenant_id`.
#[derive(Debug, Clone)]
pub struct QueryResolver {
    param: String,
    trust: Trust,
}

impl QueryResolver {
    /// Reads the query parameter `param`.
    pub fn new(param: impl Into<String>) -> Self {
        QueryResolver {
            param: param.into(),
            trust: Trust::Claimed,
        }
    }

    /// Treats the parameter as verified; see [`HeaderResolver::verified`] for when that is
    /// right (almost never for a query parameter).
    pub fn verified(mut self) -> Self {
        self.trust = Trust::Verified;
        self
    }
}

impl Default for QueryResolver {
    /// `tenant_id`, claimed.
    fn default() -> Self {
        QueryResolver::new("tenant_id")
    }
}

impl RequestResolver for QueryResolver {
    fn name(&self) -> &'static str {
        "query"
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(
            query_value(request.uri.query(), &self.param).and_then(|v| match v {
                Some(value) => tenant(&value),
                None => Ok(None),
            }),
        )
    }
}

/// The decoded value of query parameter `param`; an error when it is repeated or badly encoded.
fn query_value(query: Option<&str>, param: &str) -> Result<Option<String>, Rejection> {
    let mut found = None;
    for pair in query.unwrap_or_default().split('&') {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(raw_key, true).as_deref() != Some(param) {
            continue;
        }
        if found.is_some() {
            return Err(TWICE);
        }
        found = Some(
            percent_decode(raw_value, true).ok_or(Rejection::InvalidTenantId {
                reason: "the value is not validly percent-encoded UTF-8",
            })?,
        );
    }
    Ok(found)
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

// ---------------------------------------------------------------------------------------------
// Path

/// One segment of a [`PathResolver`] pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal this text.
    Literal(String),
    /// `{tenant}`: the tenant.
    Tenant,
    /// `{anything}` or `*`: any one segment.
    Any,
}

/// The tenant from a segment of the path, named by a pattern such as `/tenants/{tenant}` or
/// `/v1/orgs/{org}/tenants/{tenant}`. Claimed.
///
/// The pattern matches the start of the path, segment by segment: literal segments must be
/// equal, `{tenant}` is the tenant, any other `{name}` (or `*`) matches any one segment, and the
/// path may go on after the pattern (`/tenants/acme/notes/1`). A path that does not match: no
/// answer. A match whose tenant segment is invalid (after percent-decoding): `400
/// invalid_tenant_id`.
///
/// Under API Gateway REST APIs, `lambda_http` puts the stage in front of the path
/// (`/prod/tenants/...`) unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set; write the pattern
/// for the path your service sees.
#[derive(Debug, Clone)]
pub struct PathResolver {
    pattern: String,
    segments: Vec<Segment>,
    trust: Trust,
}

impl PathResolver {
    /// Parses `pattern`: it starts with `/` and has exactly one `{tenant}` segment
    /// ([`Error::Config`] otherwise).
    pub fn new(pattern: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::Config(format!("path pattern {pattern:?}: {why}"));
        let rest = pattern
            .strip_prefix('/')
            .ok_or_else(|| invalid("must start with '/'"))?;
        let segments: Vec<Segment> = rest
            .trim_end_matches('/')
            .split('/')
            .map(|s| match s {
                "{tenant}" => Segment::Tenant,
                "*" => Segment::Any,
                s if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => Segment::Any,
                s => Segment::Literal(s.to_owned()),
            })
            .collect();
        match segments.iter().filter(|s| **s == Segment::Tenant).count() {
            1 => {}
            0 => return Err(invalid("has no {tenant} segment")),
            _ => return Err(invalid("has more than one {tenant} segment")),
        }
        if let Some(Segment::Literal(bad)) = segments
            .iter()
            .find(|s| matches!(s, Segment::Literal(l) if l.is_empty() || l.contains(['{', '}'])))
        {
            return Err(invalid(&format!("segment {bad:?} is empty or malformed")));
        }
        Ok(PathResolver {
            pattern: pattern.to_owned(),
            segments,
            trust: Trust::Claimed,
        })
    }

    /// Treats the path as verified; see [`HeaderResolver::verified`].
    pub fn verified(mut self) -> Self {
        self.trust = Trust::Verified;
        self
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The raw (still percent-encoded) tenant segment of `path`, if the pattern matches.
    fn tenant_segment<'p>(&self, path: &'p str) -> Option<&'p str> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut found = None;
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(l) if l != part => return None,
                Segment::Literal(_) | Segment::Any => {}
                Segment::Tenant => found = Some(part),
            }
        }
        found
    }
}

impl RequestResolver for PathResolver {
    fn name(&self) -> &'static str {
        "path"
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(match self.tenant_segment(request.uri.path()) {
            None => Ok(None),
            Some(raw) => match percent_decode(raw, false) {
                Some(value) => tenant(&value),
                None => Err(Rejection::InvalidTenantId {
                    reason: "the path segment is not validly percent-encoded UTF-8",
                }),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Host: subdomain and custom domain

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

/// The tenant from the first label of the host under a base domain: with base `example.com`,
/// `acme.example.com` is tenant `acme`. Claimed.
///
/// The host is lowercased (DNS names are case-insensitive), so tenants named this way should
/// have lowercase ids. No answer for: the bare base domain, an ignored label (`www` by default),
/// a deeper name (`a.b.example.com`), another domain, an IP address, no host. A label that is
/// not a valid tenant id: `400 invalid_tenant_id`.
#[derive(Debug, Clone)]
pub struct SubdomainResolver {
    /// `.example.com`: the suffix a tenant host ends with.
    suffix: String,
    ignored: Vec<String>,
    trust: Trust,
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
        })
    }

    /// Also gives no answer for `label` (`api`, `app`, ...), besides `www`.
    pub fn ignore(mut self, label: &str) -> Self {
        self.ignored.push(label.to_ascii_lowercase());
        self
    }

    /// Treats the host as verified; see [`HeaderResolver::verified`].
    pub fn verified(mut self) -> Self {
        self.trust = Trust::Verified;
        self
    }
}

impl RequestResolver for SubdomainResolver {
    fn name(&self) -> &'static str {
        "subdomain"
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        done(request_host(request).and_then(|host| {
            let Some(host) = host else { return Ok(None) };
            match host.strip_suffix(self.suffix.as_str()) {
                Some(label)
                    if !label.is_empty()
                        && !label.contains('.')
                        && !self.ignored.iter().any(|i| i == label) =>
                {
                    tenant(label)
                }
                _ => Ok(None),
            }
        }))
    }
}

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

    /// Treats the host as verified; see [`HeaderResolver::verified`].
    pub fn verified(mut self) -> Self {
        self.trust = Trust::Verified;
        self
    }
}

impl fmt::Debug for DomainResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainResolver")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl RequestResolver for DomainResolver {
    fn name(&self) -> &'static str {
        "domain"
    }

    fn trust(&self) -> Trust {
        self.trust
    }

    fn resolve<'a>(&'a self, request: &'a Parts) -> ResolveFuture<'a> {
        Box::pin(async move {
            match request_host(request)? {
                Some(host) => self.lookup.lookup(&host).await,
                None => Ok(None),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// API key

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

// ---------------------------------------------------------------------------------------------
// Claims of a verified identity

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

// ---------------------------------------------------------------------------------------------
// Closures

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
