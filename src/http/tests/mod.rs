//! Unit tests of the resolvers, the chain, the authorizer, exclusions and the responses.
//! Nothing here talks to DynamoDB; `tests/integration/http_layer.rs` does.
//!
//! This module holds the helpers the topics share; the tests are in one file per topic.

mod chain_and_authorizer;
mod conflicts;
mod credentials;
mod resolvers;
mod responses;
mod service;
mod tracing_spans;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use tower::{service_fn, Layer, ServiceExt};

use super::*;
use crate::tenant::{TenantContext, TenantId};

fn tid(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

/// A request head for `uri` with `headers`.
fn head(uri: &str, headers: &[(&str, &[u8])]) -> http::request::Parts {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    builder.body(()).unwrap().into_parts().0
}

async fn ask(
    resolver: &impl RequestResolver,
    parts: &http::request::Parts,
) -> Result<Option<TenantId>, Rejection> {
    resolver.resolve(parts).await
}

/// The rejection's code, or the tenant: compact to assert on.
fn outcome(r: Answer) -> Outcome {
    r.map(|t| t.map(|t| t.to_string())).map_err(|e| e.code())
}

fn hit(s: &str) -> Outcome {
    Ok(Some(s.to_owned()))
}

const MISS: Result<Option<String>, &str> = Ok(None);
const INVALID: Result<Option<String>, &str> = Err("invalid_tenant_id");

/// What a resolver answered: the tenant, or the rejection's code.
type Outcome = Result<Option<String>, &'static str>;
/// Request headers as (name, raw value) pairs.
type Headers<'a> = Vec<(&'a str, &'a [u8])>;
/// The answer a [`fixed`] resolver gives.
type Answer = Result<Option<TenantId>, Rejection>;

// ---------------------------------------------------------------------------------------------
// Shared by the resolver and the chain tests

fn keys() -> BTreeMap<String, TenantId> {
    let mut keys = BTreeMap::new();
    keys.insert("k-acme-secret".to_owned(), tid("acme"));
    keys
}

fn claims(json: serde_json::Value) -> VerifiedClaims {
    match json {
        serde_json::Value::Object(map) => VerifiedClaims(map),
        other => panic!("not an object: {other}"),
    }
}

#[derive(Debug, Clone)]
struct Principal {
    tenants: Vec<TenantId>,
}

fn principal_authorizer() -> impl TenantAuthorizer {
    authorize_principal(|p: &Principal, t: &TenantId| {
        let allowed = p.tenants.contains(t);
        async move { Ok(allowed) }
    })
}

// ---------------------------------------------------------------------------------------------
// Shared by the service and the tracing tests

/// What the inner service saw.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    scoped: Option<TenantId>,
    resolved: Option<ResolvedTenant>,
}

fn test_layer() -> TenantLayer {
    TenantLayer::builder()
        .resolver(ApiKeyResolver::new(lookup_fn(|key: String| async move {
            match key.as_str() {
                "k-acme" => Ok(Some(TenantId::new("acme")?)),
                "k-broken" => Err(Rejection::internal("secret detail: db at 10.0.0.7")),
                _ => Ok(None),
            }
        })))
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .exclude("/health")
        .build()
        .unwrap()
}

/// Sends `request` through the test layer around a handler that records what it saw.
async fn send(request: Request<String>) -> (Response<String>, Option<Seen>) {
    let seen = Arc::new(Mutex::new(None));
    let slot = seen.clone();
    let handler = service_fn(move |req: Request<String>| {
        let slot = slot.clone();
        async move {
            tokio::task::yield_now().await;
            *slot.lock().unwrap() = Some(Seen {
                scoped: TenantContext::scoped(),
                resolved: req.extensions().get::<ResolvedTenant>().cloned(),
            });
            Ok::<_, Infallible>(Response::new("handled".to_owned()))
        }
    });
    let response = test_layer().layer(handler).oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (response, seen)
}

fn request(uri: &str, headers: &[(&str, &str)], principal: Option<&[&str]>) -> Request<String> {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut req = builder.body(String::new()).unwrap();
    if let Some(tenants) = principal {
        req.extensions_mut().insert(Principal {
            tenants: tenants.iter().map(|t| tid(t)).collect(),
        });
    }
    req
}

fn assert_json_error(response: &Response<String>, status: u16, code: &str, message: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers().get(CONTENT_TYPE).unwrap(),
        "application/json"
    );
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "error": code, "message": message }),
        "{}",
        response.body()
    );
}
