//! AWS Lambda (feature `lambda`): tenants from API Gateway's authorizers, a `run` helper, and
//! tenant scoping for non-HTTP events.
//!
//! `lambda_http` turns API Gateway (REST and HTTP APIs) and ALB events into `http::Request`s and
//! runs a tower service over them, so the [`TenantLayer`] of [`crate::http`] works unchanged.
//! What Lambda adds is where a verified tenant can come from: API Gateway has already checked
//! the caller's token (JWT or Cognito authorizer) or run a Lambda authorizer, and puts the result
//! in the request context. [`AuthorizerResolver`] reads it there:
//!
//! ```no_run
//! use dynabao::http::TenantLayer;
//! use dynabao::lambda::AuthorizerResolver;
//! use dynabao::{Config, Db};
//! use lambda_http::{service_fn, Body, Error, Request, Response};
//!
//! async fn handler(db: Db, request: Request) -> Result<Response<Body>, Error> {
//!     // Scoped to the tenant of the verified claim: dynabao operations just work.
//!     let _ = (db, request);
//!     Ok(Response::new(Body::from("ok")))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let db = Db::connect(Config::from_env()?).await?; // once per cold start, not per request
//!     let layer = TenantLayer::builder()
//!         .resolver(AuthorizerResolver::http_jwt_claim("custom:tenant_id"))
//!         .build()?;
//!     dynabao::lambda::run(layer, service_fn(move |request| handler(db.clone(), request))).await
//! }
//! ```
//!
//! | event | resolver |
//! |---|---|
//! | REST API (v1), Lambda authorizer | [`AuthorizerResolver::rest_authorizer`] |
//! | REST API (v1), Cognito user pool authorizer | [`AuthorizerResolver::rest_cognito_claim`] |
//! | HTTP API (v2), JWT authorizer | [`AuthorizerResolver::http_jwt_claim`] |
//! | HTTP API (v2), Lambda authorizer | [`AuthorizerResolver::http_lambda_authorizer`] |
//! | ALB | a header: [`HeaderResolver`](crate::http::HeaderResolver) plus an authorizer, as for any client-named tenant |
//!
//! Under a REST API, `lambda_http` puts the stage in front of the path (`/prod/notes`) unless
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set; excluded paths and path patterns see the path
//! as the service does.
//!
//! Non-HTTP events (SQS, EventBridge, DynamoDB streams) carry their tenant in the payload; see
//! [`events`].
//!
//! `examples/lambda_handler.rs` is a whole function: the `notes` API behind an HTTP API JWT
//! authorizer.

mod context;
pub mod events;

use std::fmt;

use http::Response;
use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::{IntoResponse, Service};
use tower_layer::Layer;

pub use context::{AuthorizerResolver, ContextSource};

use crate::http::TenantLayer;

/// The environment the Lambda runtime sets, which `lambda_http::run` reads (and panics
/// without).
const RUNTIME_VARS: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Wraps `handler` in `layer` and runs it under the Lambda runtime API (`lambda_http::run`)
/// until the runtime stops the function.
///
/// Build what the handler shares (the [`Db`](crate::Db), clients, configuration) once, before
/// calling this, and move clones into the handler: a warm function reuses them for every event.
///
/// Outside Lambda (no `AWS_LAMBDA_RUNTIME_API` and the other variables the runtime sets), this
/// returns an error naming the missing variable instead of letting `lambda_http` panic. To run
/// the handler locally use `cargo lambda watch`, or call the wrapped service directly with
/// requests made by `lambda_http::request::from_str` from event JSON, as the tests do.
pub async fn run<S, RB>(layer: TenantLayer, handler: S) -> Result<(), lambda_http::Error>
where
    S: Service<lambda_http::Request, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: fmt::Debug + Into<Diagnostic> + Send + 'static,
    RB: From<String> + Send + 'static,
    Response<RB>: IntoResponse,
{
    check_runtime_env(|name| std::env::var_os(name).is_some())?;
    lambda_http::run(layer.layer(handler)).await
}

/// The error for the first variable of [`RUNTIME_VARS`] that `is_set` says is missing.
fn check_runtime_env(is_set: impl Fn(&str) -> bool) -> Result<(), lambda_http::Error> {
    match RUNTIME_VARS.iter().find(|name| !is_set(name)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "not running under the AWS Lambda runtime: {missing} is not set (run it with \
             `cargo lambda watch`, or test the service with lambda_http::request::from_str)"
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_lambda_run_explains_instead_of_panicking() {
        let err = check_runtime_env(|_| false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not running under the AWS Lambda runtime: AWS_LAMBDA_RUNTIME_API is not set (run it \
             with `cargo lambda watch`, or test the service with lambda_http::request::from_str)"
        );
        let err = check_runtime_env(|name| name != "AWS_LAMBDA_FUNCTION_VERSION").unwrap_err();
        assert!(err
            .to_string()
            .contains("AWS_LAMBDA_FUNCTION_VERSION is not set"));
        assert!(check_runtime_env(|_| true).is_ok());
    }

    #[tokio::test]
    async fn run_outside_lambda_returns_the_error() {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return; // really under Lambda: nothing to check here
        }
        let layer = TenantLayer::builder()
            .resolver(AuthorizerResolver::http_jwt_claim("custom:tenant_id"))
            .build()
            .unwrap();
        let handler = lambda_http::service_fn(|_req: lambda_http::Request| async {
            Ok::<_, std::convert::Infallible>(Response::new(lambda_http::Body::Empty))
        });
        let err = run(layer, handler).await.unwrap_err();
        assert!(err
            .to_string()
            .contains("AWS_LAMBDA_RUNTIME_API is not set"));
    }
}
