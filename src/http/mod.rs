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
//! Handlers turn dynabao errors into responses with [`ErrorResponse`]: statuses that fit the
//! error, a stable code, and nothing internal (a `TenantRequired` inside a scoped request is a
//! bug in the service: `500`, logged).
//!
//! The `notes` service in `examples/axum_service.rs` puts it all together.

mod authorize;
mod layer;
mod lookup;
mod resolvers;
mod response;

pub use authorize::{authorize_principal, AuthorizeFuture, PrincipalAuthorizer, TenantAuthorizer};
pub use layer::{ResolvedTenant, TenantFuture, TenantLayer, TenantLayerBuilder, TenantService};
pub use lookup::{lookup_fn, FnLookup, LookupFuture, TenantLookup};
pub use resolvers::{
    request_resolver_fn, ApiKeyResolver, ClaimResolver, Claims, DomainResolver,
    FnRequestResolver, HeaderResolver, PathResolver, QueryResolver, RequestResolver,
    ResolveFuture, SubdomainResolver, Trust, VerifiedClaims,
};
pub use response::{ErrorResponse, Rejection};

#[cfg(feature = "lambda")]
pub(crate) use resolvers::{claim_tenant, json_claim};

#[cfg(test)]
mod tests;
