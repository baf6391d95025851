//! [`TenantLayer`]: resolves the tenant of each request and scopes the rest of it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use super::{Rejection, RequestResolver, TenantAuthorizer, TenantGate, Trust};
use crate::tenant::{TenantContext, TenantId};
use crate::Error;

/// The tenant the layer resolved for a request, put in the request extensions for handlers
/// (axum: `Extension<ResolvedTenant>`) and logs. The tenant is also the request's scoped tenant,
/// so dynabao operations need nothing from here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedTenant {
    /// The tenant.
    pub tenant: TenantId,
    /// The [name](RequestResolver::name) of the resolver that answered.
    pub resolver: &'static str,
    /// Whether it was claimed by the client (and then authorized) or verified.
    pub trust: Trust,
}

/// A tower [`Layer`] that resolves each request's tenant and runs the rest of the request in
/// [`TenantContext::scope`] (what [`TenantContext::run_with_tenant`] does with an id already
/// validated). It works wherever tower services do: axum (`Router::layer`), hyper, tonic, and
/// `lambda_http` (whose handlers are tower services; see `dynabao::lambda`).
///
/// For each request that is not [excluded](TenantLayerBuilder::exclude):
///
/// 1. The resolvers are asked in order, and a resolver error stops the chain (it is never
///    skipped over). By default every resolver is asked, and answers that name different
///    tenants refuse the request with `403 tenant_mismatch` (a verified claim for tenant A
///    and a subdomain of tenant B is an attack or a bug, never a choice to make in silence);
///    with [`SourceConflict::FirstAnswer`] the first answer wins and later resolvers are not
///    asked ([`TenantLayerBuilder::on_conflict`]).
/// 2. A [claimed](Trust::Claimed) tenant (header, query, path, host) is checked by the
///    [`TenantAuthorizer`] against the authenticated principal; a [verified](Trust::Verified)
///    one (API key, verified claim) is used as is. When a verified source and claimed ones
///    agree, the tenant counts as verified.
/// 3. A [`TenantGate`], when there is one ([`TenantLayerBuilder::gate`]), admits the tenant
///    or refuses the request: unknown `404 tenant_not_found`, suspended `403
///    tenant_suspended`, not in service `403 tenant_unavailable` (the registry's gate; see
///    `dynabao::http::RegistryGate`).
/// 4. The tenant is recorded on the request's span, put in the extensions as
///    [`ResolvedTenant`], and the inner service runs scoped to it.
///
/// Tenant ids are case-sensitive. A resolver that reads a case-insensitive source and folds it
/// to lowercase ([`SubdomainResolver`](super::SubdomainResolver), see
/// [`RequestResolver::folds_case`]) can only ever name lowercase ids, so a layer that has one
/// accepts lowercase tenant ids only, from every source (`400 invalid_tenant_id` otherwise):
/// behind it, `Acme` and `acme` can never both be used.
///
/// Failures are answered by the layer itself, with JSON bodies
/// `{"error": "<code>", "message": "..."}` ([`Rejection`]): no tenant `400 tenant_required`, an
/// invalid tenant id `400 invalid_tenant_id`, no principal to check `401 unauthorized`, a tenant
/// the principal may not use `403 tenant_forbidden`, sources that name different tenants `403
/// tenant_mismatch`, a lookup that failed `500 internal_error` (logged, never sent).
///
/// Tracing: every request that is not excluded runs inside a `dynabao.tenant` span whose
/// `tenant` and `tenant.resolver` fields are recorded once resolved. The layer also records
/// `tenant` on the span that was current when the request arrived (an outer `TraceLayer` span,
/// say) when that span declares the field (`tenant = tracing::field::Empty`).
///
/// The error responses need the inner service's response body to convert from a `String` (true
/// of axum's and lambda_http's bodies, `String`, `Full<Bytes>`).
///
/// ```
/// use dynabao::http::{authorize_principal, HeaderResolver, TenantLayer};
/// use dynabao::tenant::TenantId;
///
/// #[derive(Clone)]
/// struct Principal { tenants: Vec<TenantId> }
///
/// let layer = TenantLayer::builder()
///     .resolver(HeaderResolver::default()) // X-Tenant-ID, claimed ...
///     .authorizer(authorize_principal(|p: &Principal, t: &TenantId| {
///         let allowed = p.tenants.contains(t); // ... so checked against the principal
///         async move { Ok(allowed) }
///     }))
///     .exclude("/health")
///     .build()?;
/// // axum: Router::new().route(...).layer(layer).layer(authentication)
/// # let _ = layer;
/// # Ok::<(), dynabao::Error>(())
/// ```
#[derive(Clone)]
pub struct TenantLayer {
    config: Arc<Config>,
}

/// What a [`TenantLayer`] does when two resolvers name different tenants for one request; set
/// with [`TenantLayerBuilder::on_conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceConflict {
    /// Every resolver is asked; answers that name different tenants refuse the request with
    /// `403 tenant_mismatch`. The default: a verified source (an API key, a verified claim)
    /// and a claimed one (a header, a subdomain) that disagree never run as either.
    #[default]
    Refuse,
    /// The first resolver that answers wins and the later ones are not asked, so a
    /// disagreement goes unnoticed. For chains whose sources are alternatives by design (a
    /// claimed header that may legitimately differ from the verified tenant it comes after,
    /// say) and for resolvers too costly to ask on every request.
    FirstAnswer,
}

/// What a [`TenantLayer`] does; shared by all its services.
struct Config {
    resolvers: Vec<Arc<dyn RequestResolver>>,
    authorizer: Option<Arc<dyn TenantAuthorizer>>,
    gate: Option<Arc<dyn TenantGate>>,
    excluded: Vec<Exclusion>,
    conflict: SourceConflict,
    /// A resolver folds case: accept lowercase tenant ids only.
    lowercase_only: bool,
}

/// A path (or path prefix) that runs without a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exclusion {
    /// Exactly this path.
    Exact(String),
    /// This path and everything under it (segment-wise).
    Prefix(String),
}

impl Exclusion {
    fn matches(&self, path: &str) -> bool {
        match self {
            Exclusion::Exact(p) => path == p,
            Exclusion::Prefix(p) if p.ends_with('/') => path.starts_with(p.as_str()),
            Exclusion::Prefix(p) => path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

impl TenantLayer {
    /// Starts a layer: add resolvers in the order they should be asked.
    pub fn builder() -> TenantLayerBuilder {
        TenantLayerBuilder {
            resolvers: Vec::new(),
            authorizer: None,
            gate: None,
            excluded: Vec::new(),
            invalid: Vec::new(),
            conflict: SourceConflict::default(),
        }
    }

    /// Whether `path` is excluded (runs with no tenant).
    pub fn is_excluded(&self, path: &str) -> bool {
        self.config.is_excluded(path)
    }

    /// Runs the resolver chain and the authorizer over a request head, as the layer does for
    /// each request: for tests, and for integrations that are not tower services.
    pub async fn resolve(&self, request: &Parts) -> Result<ResolvedTenant, Rejection> {
        self.config.resolve(request).await
    }
}

impl fmt::Debug for TenantLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resolvers: Vec<(&str, Trust)> = self
            .resolvers
            .iter()
            .map(|r| (r.name(), r.trust()))
            .collect();
        f.debug_struct("TenantLayer")
            .field("resolvers", &resolvers)
            .field("authorizer", &self.authorizer.is_some())
            .field("gate", &self.gate.is_some())
            .field("excluded", &self.excluded)
            .finish()
    }
}

impl Config {
    fn is_excluded(&self, path: &str) -> bool {
        self.excluded.iter().any(|e| e.matches(path))
    }

    async fn resolve(&self, request: &Parts) -> Result<ResolvedTenant, Rejection> {
        // The first answer, and the first verified resolver that gave the same tenant.
        let mut first: Option<(TenantId, &'static str, Trust)> = None;
        let mut verified: Option<&'static str> = None;
        for resolver in &self.resolvers {
            let Some(tenant) = resolver.resolve(request).await? else {
                continue;
            };
            if self.lowercase_only && tenant.as_str().bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(Rejection::InvalidTenantId {
                    reason: "tenant ids are lowercase here, since the host names tenants",
                });
            }
            let trust = resolver.trust();
            match &first {
                None => first = Some((tenant, resolver.name(), trust)),
                Some((chosen, chosen_by, _)) if *chosen != tenant => {
                    tracing::debug!(
                        first = chosen_by,
                        other = resolver.name(),
                        "dynabao: two sources of the request name different tenants"
                    );
                    return Err(Rejection::TenantMismatch);
                }
                Some(_) => {}
            }
            if trust == Trust::Verified && verified.is_none() {
                verified = Some(resolver.name());
            }
            if self.conflict == SourceConflict::FirstAnswer {
                break;
            }
        }
        let Some((tenant, first_name, first_trust)) = first else {
            return Err(Rejection::TenantRequired);
        };
        let (resolver, trust) = match verified {
            Some(name) => (name, Trust::Verified),
            None => (first_name, first_trust),
        };
        if trust == Trust::Claimed {
            match &self.authorizer {
                Some(authorizer) => authorizer.authorize(request, &tenant).await?,
                // `build` refuses a claimed resolver without an authorizer; fail closed anyway.
                None => return Err(Rejection::Forbidden),
            }
        }
        Ok(ResolvedTenant {
            tenant,
            resolver,
            trust,
        })
    }
}

/// Builds a [`TenantLayer`]; from [`TenantLayer::builder`].
pub struct TenantLayerBuilder {
    resolvers: Vec<Arc<dyn RequestResolver>>,
    authorizer: Option<Arc<dyn TenantAuthorizer>>,
    gate: Option<Arc<dyn TenantGate>>,
    excluded: Vec<Exclusion>,
    /// Exclusions that are not paths, reported by `build`.
    invalid: Vec<String>,
    conflict: SourceConflict,
}

impl TenantLayerBuilder {
    /// Appends a resolver to the chain. Resolvers are asked in the order they were added; put
    /// verified sources (claims, API keys) before client-named ones (with
    /// [`SourceConflict::FirstAnswer`] the order decides who wins; by default it decides which
    /// resolver is reported and which error comes first).
    pub fn resolver(mut self, resolver: impl RequestResolver) -> Self {
        self.resolvers.push(Arc::new(resolver));
        self
    }

    /// Sets the authorizer that checks claimed tenants. Required when any resolver is
    /// [claimed](Trust::Claimed).
    pub fn authorizer(mut self, authorizer: impl TenantAuthorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Checks every resolved (and authorized) tenant with `gate` before the request runs: the
    /// registry's [`RegistryGate`](crate::http::RegistryGate) (feature `registry`) refuses
    /// unknown, suspended and unavailable tenants and puts the tenant's record in the request
    /// extensions.
    pub fn gate(mut self, gate: impl TenantGate) -> Self {
        self.gate = Some(Arc::new(gate));
        self
    }

    /// What to do when two resolvers name different tenants for one request: refuse it (`403
    /// tenant_mismatch`, the default, [`SourceConflict::Refuse`]) or let the first answer win
    /// without asking the rest ([`SourceConflict::FirstAnswer`], the behaviour of dynabao
    /// before this setting existed).
    pub fn on_conflict(mut self, conflict: SourceConflict) -> Self {
        self.conflict = conflict;
        self
    }

    /// Runs requests for exactly `path` (`/health`) with no tenant: no resolver is asked and
    /// nothing is scoped. The path is compared as the service sees it, before any routing.
    pub fn exclude(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if path.starts_with('/') {
            self.excluded.push(Exclusion::Exact(path));
        } else {
            self.invalid.push(path);
        }
        self
    }

    /// Runs requests for `prefix` and every path under it (`/docs` excludes `/docs` and
    /// `/docs/index.html`, not `/docsets`) with no tenant.
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        if prefix.starts_with('/') {
            self.excluded.push(Exclusion::Prefix(prefix));
        } else {
            self.invalid.push(prefix);
        }
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// [`Error::Config`] when there is no resolver, when an excluded path does not start with
    /// `/`, or when a resolver is [claimed](Trust::Claimed) and there is no authorizer: a tenant
    /// the client merely names is never used unchecked.
    pub fn build(self) -> Result<TenantLayer, Error> {
        if self.resolvers.is_empty() {
            return Err(Error::Config(
                "TenantLayer: add at least one resolver".into(),
            ));
        }
        if let Some(bad) = self.invalid.first() {
            return Err(Error::Config(format!(
                "TenantLayer: excluded path {bad:?} must start with '/'"
            )));
        }
        if self.authorizer.is_none() {
            if let Some(claimed) = self.resolvers.iter().find(|r| r.trust() == Trust::Claimed) {
                return Err(Error::Config(format!(
                    "TenantLayer: the {} resolver gives a tenant the client chose; add an \
                     authorizer (TenantLayerBuilder::authorizer) to check it against the principal",
                    claimed.name()
                )));
            }
        }
        let lowercase_only = self.resolvers.iter().any(|r| r.folds_case());
        Ok(TenantLayer {
            config: Arc::new(Config {
                resolvers: self.resolvers,
                authorizer: self.authorizer,
                gate: self.gate,
                excluded: self.excluded,
                conflict: self.conflict,
                lowercase_only,
            }),
        })
    }
}

impl fmt::Debug for TenantLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantLayerBuilder")
            .field("resolvers", &self.resolvers.len())
            .field("authorizer", &self.authorizer.is_some())
            .field("gate", &self.gate.is_some())
            .field("excluded", &self.excluded)
            .field("conflict", &self.conflict)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for TenantLayer {
    type Service = TenantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`TenantLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct TenantService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> fmt::Debug for TenantService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantService")
            .field("layer", &self.config)
            .finish_non_exhaustive()
    }
}

/// The future of [`TenantService`].
pub type TenantFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B, RB> Service<Request<B>> for TenantService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    RB: From<String> + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = TenantFuture<Response<RB>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone is not ready; keep the ready service for this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if config.is_excluded(parts.uri.path()) {
                return inner.call(Request::from_parts(parts, body)).await;
            }
            let outer = tracing::Span::current();
            let span = tracing::info_span!(
                "dynabao.tenant",
                tenant = tracing::field::Empty,
                tenant.resolver = tracing::field::Empty,
            );
            let admitted = async {
                let resolved = config.resolve(&parts).await?;
                if let Some(gate) = &config.gate {
                    gate.admit(&resolved.tenant, &mut parts.extensions).await?;
                }
                Ok::<_, Rejection>(resolved)
            };
            let resolved = match admitted.instrument(span.clone()).await {
                Ok(resolved) => resolved,
                Err(rejection) => {
                    let _entered = span.enter();
                    tracing::debug!(
                        code = rejection.code(),
                        status = rejection.status().as_u16(),
                        "dynabao: request refused by the tenant layer"
                    );
                    return Ok(rejection.into_response());
                }
            };
            span.record("tenant", resolved.tenant.as_str());
            span.record("tenant.resolver", resolved.resolver);
            outer.record("tenant", resolved.tenant.as_str());
            let tenant = resolved.tenant.clone();
            parts.extensions.insert(resolved);
            let request = Request::from_parts(parts, body);
            TenantContext::scope(tenant, async move { inner.call(request).await })
                .instrument(span)
                .await
        })
    }
}
