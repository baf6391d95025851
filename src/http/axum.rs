//! axum glue (feature `axum`): error responses are `IntoResponse`, and the tenant the layer
//! resolved (and, with `registry`, its record) are extractors.
//!
//! ```
//! use axum_core::response::IntoResponse;
//! use dynabao::http::{ErrorResponse, ResolvedTenant};
//!
//! // A handler returns dynabao's errors as they are: `?` turns them into `ErrorResponse`.
//! async fn show(tenant: ResolvedTenant) -> Result<String, ErrorResponse> {
//!     Ok(format!("tenant {}", tenant.tenant))
//! }
//! # let _ = show;
//! # fn check(e: ErrorResponse) -> impl IntoResponse { e }
//! ```

use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use super::{ErrorResponse, Rejection, ResolvedTenant};

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        ErrorResponse::into_response::<Body>(self)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        Rejection::into_response::<Body>(self)
    }
}

/// The answer when an extractor finds nothing because the handler is not behind the layer (or
/// the gate) that puts it there: a bug in the service, logged, a `500` for the client.
fn not_behind_layer(what: &'static str) -> ErrorResponse {
    tracing::error!(
        extractor = what,
        "dynabao: the handler is not behind the TenantLayer (or its gate) this extractor needs"
    );
    ErrorResponse::internal()
}

/// The tenant the [`TenantLayer`](super::TenantLayer) resolved, as an extractor. A handler
/// outside the layer (an excluded path) gets a logged `500`.
impl<S: Send + Sync> FromRequestParts<S> for ResolvedTenant {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ErrorResponse> {
        parts
            .extensions
            .get::<ResolvedTenant>()
            .cloned()
            .ok_or_else(|| not_behind_layer("ResolvedTenant"))
    }
}

/// The current tenant's record, as an extractor: what the layer's
/// [`RegistryGate`](super::RegistryGate) found, so it costs no lookup. Without the gate in
/// front, a logged `500`.
#[cfg(feature = "registry")]
impl<S: Send + Sync, C: Send + Sync + 'static> FromRequestParts<S>
    for crate::registry::CurrentTenant<C>
{
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ErrorResponse> {
        parts
            .extensions
            .get::<crate::registry::CurrentTenant<C>>()
            .cloned()
            .ok_or_else(|| not_behind_layer("CurrentTenant"))
    }
}
