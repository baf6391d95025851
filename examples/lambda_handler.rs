//! The `notes` API (see `examples/notes/mod.rs`) as an AWS Lambda function behind an API Gateway
//! HTTP API (payload 2.0) with a JWT authorizer. The tenant is the verified claim
//! `custom:tenant_id` (a Cognito user pool attribute, say); there are no API keys, because API
//! Gateway has authenticated the caller before the function runs.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DYNAMODB_ENDPOINT` | the DynamoDB to use; when set, the table is created if missing (local development) | AWS, from the function's role |
//! | `DYNABAO_TABLE` | the table | `notes` |
//!
//! It runs under the real Lambda runtime API (`lambda_http::run`, through
//! `dynabao::lambda::run`), so `cargo run` outside Lambda stops with an error naming the missing
//! runtime variable (after connecting, which needs an AWS region or `DYNAMODB_ENDPOINT`). Deploy it with `cargo lambda build --release --example
//! lambda_handler --features lambda`, or run it locally with `cargo lambda watch`. CI builds
//! it, and the integration tests drive [`service`] with API Gateway v2 event JSON converted by
//! `lambda_http` itself (`tests/integration/lambda_events.rs`).
//!
//! A request with no `custom:tenant_id` claim is `400 tenant_required`; an invalid one `400
//! invalid_tenant_id`. `GET /health` needs no tenant.

#[path = "notes/mod.rs"]
mod notes;

use axum::Router;
use dynabao::http::{TenantLayer, TenantService};
use dynabao::lambda::AuthorizerResolver;
use dynabao::{Config, Db};
use tower::Layer;

/// The claim that names the tenant.
pub const TENANT_CLAIM: &str = "custom:tenant_id";

/// The tenant layer of the function: the JWT authorizer's `custom:tenant_id` claim, verified,
/// so no authorizer of our own; `/health` excluded.
pub fn tenant_layer() -> Result<TenantLayer, dynabao::Error> {
    TenantLayer::builder()
        .resolver(AuthorizerResolver::http_jwt_claim(TENANT_CLAIM))
        .exclude("/health")
        .build()
}

/// The whole service as the runtime runs it: the notes router inside the tenant layer. Tests
/// call it with requests made from event JSON.
pub fn service(db: Db) -> Result<TenantService<Router>, dynabao::Error> {
    Ok(tenant_layer()?.layer(notes::router(db)))
}

/// The `Db`, built once per cold start: `DYNAMODB_ENDPOINT` when set (and then the table is
/// created if missing), AWS otherwise.
pub async fn connect() -> Result<Db, dynabao::Error> {
    let table = std::env::var("DYNABAO_TABLE").unwrap_or_else(|_| "notes".to_owned());
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let mut config = Config::new(table);
    if let Some(endpoint) = &endpoint {
        config = config.endpoint(endpoint.clone());
    }
    let db = Db::connect(config).await?;
    if endpoint.is_some() {
        db.create_table().await?;
    }
    Ok(db)
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let db = connect().await?;
    dynabao::lambda::run(tenant_layer()?, notes::router(db)).await
}
