//! Tenant resolution at the edge of an HTTP service (feature `http`).
//!
//! [`TenantLayer`] is a tower [`Layer`](tower_layer::Layer): it runs an ordered chain of
//! [resolvers](RequestResolver) over each incoming `http::Request`, checks a tenant the client
//! merely named against the authenticated principal ([`TenantAuthorizer`]), and runs the rest
//! of the request scoped to the tenant, so every dynabao operation in the handler (and in what
//! it awaits) uses it. The same layer serves axum, hyper and `lambda_http` (whose handlers are
//! tower services; feature `lambda` adds resolvers over its request context).
//!
//! ```
//! use std::collections::HashMap;
//! use dynabao::http::{
//!     authorize_principal, ApiKeyResolver, ClaimResolver, HeaderResolver, TenantLayer,
//! };
//! use dynabao::tenant::TenantId;
//!
//! /// What the service's authentication middleware puts in the request extensions.
//! #[derive(Clone)]
//! struct User { tenants: Vec<TenantId> }
//!
//! let machine_keys: HashMap<String, TenantId> = HashMap::new(); // from a secrets store
//! let layer = TenantLayer::builder()
//!     .resolver(ClaimResolver::<dynabao::http::VerifiedClaims>::new("tenant_id")) // verified JWT
//!     .resolver(ApiKeyResolver::new(machine_keys))                                  // X-API-Key
//!     .resolver(HeaderResolver::default())                                          // X-Tenant-ID
//!     .authorizer(authorize_principal(|user: &User, tenant: &TenantId| {
//!         let allowed = user.tenants.contains(tenant);
//!         async move { Ok(allowed) }
//!     }))
//!     .exclude("/health")
//!     .exclude_prefix("/docs")
//!     .build()?;
//! # let _ = layer;
//! # Ok::<(), dynabao::Error>(())
//! ```
//!
//! # Resolvers
//!
//! Each resolver finds the tenant in one place of an HTTP request:
//!
//! | resolver | where | default | trust |
//! |---|---|---|---|
//! | [`HeaderResolver`] | a header | `X-Tenant-ID` | claimed |
//! | [`QueryResolver`] | a query parameter | `tenant_id` | claimed |
//! | [`PathResolver`] | a path segment | (a pattern such as `/tenants/{tenant}`) | claimed |
//! | [`SubdomainResolver`] | the host (lowercased), under a base domain | (the base domain) | claimed |
//! | [`DomainResolver`] | the host, through a [`TenantLookup`] | | claimed |
//! | [`ApiKeyResolver`] | an API key, through a [`TenantLookup`] | `X-API-Key` | verified |
//! | [`ClaimResolver`] | a claim of a verified identity in the extensions | | verified |
//! | `dynabao::lambda::AuthorizerResolver` (feature `lambda`) | what an API Gateway authorizer verified, in `lambda_http`'s request context | | verified |
//! | [`request_resolver_fn`] | your closure | | you say |
//!
//! A **claimed** tenant is one the client chose; the layer uses it only after its
//! [`TenantAuthorizer`] has allowed it for the request's principal. A
//! **verified** tenant comes from a credential already checked (an API key that was looked up,
//! a JWT that middleware or API Gateway verified) and is used as is.
//!
//! Each resolver answers `Ok(Some(tenant))`, `Ok(None)` (not here: ask the next one), or a
//! [`Rejection`] that stops the chain: a value that is there but malformed (an invalid tenant
//! id, a parameter given twice) is an error, never a miss, so a later resolver cannot answer in
//! its place.
//!
//! By default every resolver is asked, and two answers that name different tenants refuse the
//! request with `403 tenant_mismatch` ([`SourceConflict::Refuse`]); agreeing answers count as
//! verified when one of them is. [`SourceConflict::FirstAnswer`] (on
//! [`TenantLayerBuilder::on_conflict`]) lets the first answer win without asking the rest.
//!
//! Tenant ids are case-sensitive, but host names are not: [`SubdomainResolver`] lowercases the
//! host, and a layer that has it (any resolver whose [`folds_case`](RequestResolver::folds_case)
//! is true) accepts lowercase tenant ids only, from every resolver, so that `Acme` and `acme`
//! are never both usable behind it.
//!
//! # The principal
//!
//! The layer does not authenticate: the service's own authentication (middleware in front of
//! the layer: API keys, sessions, mTLS, a JWT library) puts its principal in the request
//! extensions, and the [`TenantAuthorizer`] finds it there. [`authorize_principal`] does that
//! for a principal of one type `P`: no `P` is `401 unauthorized`, a denied tenant `403
//! tenant_forbidden`. A claimed tenant is checked before anything runs scoped to it; a verified
//! one needs no check.
//!
//! # The tenant itself
//!
//! A [`TenantGate`] ([`TenantLayerBuilder::gate`]) checks the resolved tenant before the
//! handler runs. With feature `registry`, [`RegistryGate`] (from `registry.gate()`) admits
//! active tenants of a [`TenantRegistry`](crate::registry::TenantRegistry) only: unknown `404
//! tenant_not_found` (or `403 tenant_forbidden`), suspended `403 tenant_suspended`, pending or
//! offboarding `403 tenant_unavailable`. It puts the record in the extensions as
//! [`CurrentTenant`](crate::registry::CurrentTenant), and the registry's [`RegistryLookup`]s map
//! API keys, subdomains and domains for the resolvers. Feature `axum` makes
//! [`ResolvedTenant`], `CurrentTenant` extractors and [`ErrorResponse`] and [`Rejection`]
//! responses.
//!
//! # Errors
//!
//! Handlers turn dynabao errors into responses with [`ErrorResponse`]: statuses that fit the
//! error, a stable code, and nothing internal (a `TenantRequired` inside a scoped request is a
//! bug in the service: `500`, logged).
//!
//! The `notes` service in `examples/axum_service.rs` puts it all together.

mod authorize;
#[cfg(feature = "axum")]
mod axum;
mod gate;
mod layer;
mod lookup;
#[cfg(feature = "registry")]
mod registry;
mod resolvers;
mod response;

pub use authorize::{authorize_principal, AuthorizeFuture, PrincipalAuthorizer, TenantAuthorizer};
pub use gate::{GateFuture, TenantGate};
pub use layer::{
    ResolvedTenant, SourceConflict, TenantFuture, TenantLayer, TenantLayerBuilder, TenantService,
};
pub use lookup::{lookup_fn, FnLookup, LookupFuture, TenantLookup};
#[cfg(feature = "registry")]
pub use registry::{RegistryGate, RegistryLookup};
pub use resolvers::{
    request_resolver_fn, ApiKeyResolver, ClaimResolver, Claims, DomainResolver, FnRequestResolver,
    HeaderResolver, PathResolver, QueryResolver, RequestResolver, ResolveFuture, SubdomainResolver,
    Trust, VerifiedClaims,
};
pub use response::{ErrorResponse, Rejection};

#[cfg(feature = "lambda")]
pub(crate) use resolvers::{claim_tenant, json_claim};

#[cfg(test)]
mod tests;
