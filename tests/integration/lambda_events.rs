//! Lambda: API Gateway REST (v1) and HTTP API (v2) and ALB event JSON, written for these tests
//! after the documented event shapes (`events/*.json`), goes through `lambda_http`'s own
//! conversion (`lambda_http::request::from_str`, what `lambda_http::run` does with each
//! invocation), then the tenant layer, then a handler that writes to and reads from DynamoDB
//! Local. Each test checks the tenant of what was stored, raw. Also: the `lambda_handler`
//! example's service, and tenant scoping for SQS, EventBridge and DynamoDB stream events.

use std::convert::Infallible;
use std::sync::Arc;

use dynabao::http::{
    authorize_principal, ClaimResolver, ErrorResponse, HeaderResolver, TenantLayer, VerifiedClaims,
};
use dynabao::lambda::events::{for_each_in_tenant, tenant_at, tenant_of_key};
use dynabao::lambda::{AuthorizerResolver, ContextSource};
use dynabao::tenant::TenantId;
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Db, Error, Model, TenantContext};
use http_body_util::BodyExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};
use ulid::Ulid;

use crate::support::{raw_get, raw_scan, s};

// Both this and the other notes example include examples/notes/mod.rs, so this binary loads it
// twice, as two separate modules, on purpose.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../examples/lambda_handler.rs"]
mod lambda_handler;

/// What the test handler stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "memo")]
struct Memo {
    #[bao(pk, auto)]
    id: Ulid,
    text: String,
}

/// An event file with `__TENANT__` replaced, then `edits` applied (JSON pointer, value;
/// `Value::Null` at a pointer whose parent is an object removes the key).
fn event_json(file: &str, tenant: &str, edits: &[(&str, Value)]) -> String {
    let raw = match file {
        "apigw_v1_cognito" => include_str!("events/apigw_v1_cognito.json"),
        "apigw_v1_lambda_authorizer" => include_str!("events/apigw_v1_lambda_authorizer.json"),
        "apigw_v2_jwt" => include_str!("events/apigw_v2_jwt.json"),
        "apigw_v2_lambda_authorizer" => include_str!("events/apigw_v2_lambda_authorizer.json"),
        "alb" => include_str!("events/alb.json"),
        other => panic!("no event file {other}"),
    };
    let mut event: Value = serde_json::from_str(&raw.replace("__TENANT__", tenant)).unwrap();
    for (pointer, value) in edits {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = event
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{file}: no {parent}"));
        let map = target.as_object_mut().unwrap();
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.to_owned(), value.clone());
        }
    }
    event.to_string()
}

/// The request `lambda_http` makes of an event.
fn lambda_request(file: &str, tenant: &str, edits: &[(&str, Value)]) -> Request {
    lambda_http::request::from_str(&event_json(file, tenant, edits))
        .unwrap_or_else(|e| panic!("{file}: lambda_http rejected the event: {e}"))
}

async fn body_json<B>(response: Response<B>) -> (u16, Value)
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, value)
}

/// A handler like a function's: stores a memo from the body, reads it back, and answers with
/// it and the tenant in scope.
async fn memo_handler(db: Db, request: Request) -> Result<Response<Body>, Infallible> {
    let result = async {
        let input: Value = serde_json::from_slice(request.body().as_ref())
            .map_err(|e| Error::Config(e.to_string()))?;
        let text = input["text"].as_str().unwrap_or_default().to_owned();
        let created = Memo::create(
            &db,
            Memo {
                id: Ulid::nil(),
                text,
            },
        )
        .await?;
        let read = Memo::find(&db, &created.id).await?;
        let tenant = TenantContext::resolve().await?;
        Ok::<_, Error>(json!({
            "id": created.id.to_string(),
            "text": read.map(|m| m.text),
            "tenant": tenant.as_str(),
        }))
    }
    .await;
    Ok(match result {
        Ok(value) => {
            let mut response = Response::new(Body::from(value.to_string()));
            *response.status_mut() = lambda_http::http::StatusCode::CREATED;
            response
        }
        Err(e) => ErrorResponse::from(e).into_response(),
    })
}

/// Sends `request` through `layer` around [`memo_handler`].
async fn invoke(db: &Db, layer: &TenantLayer, request: Request) -> (u16, Value) {
    let db = db.clone();
    let service = layer.layer(lambda_http::service_fn(move |req| {
        memo_handler(db.clone(), req)
    }));
    body_json(service.oneshot(request).await.unwrap()).await
}

/// Checks that the memo `id` is stored under `tenant`'s keys, with `text`, and that nothing
/// else is in the table.
async fn assert_stored(db: &Db, tenant: &TenantId, id: &str, text: &str) {
    let pk = format!("[{tenant}]#memo#{id}");
    let item = raw_get(db, &pk, &format!("[{tenant}]#memo#_"))
        .await
        .unwrap_or_else(|| panic!("{pk} is not stored"));
    assert_eq!(s(&item, "text"), Some(text));
    let items = raw_scan(db).await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "_pk"), Some(pk.as_str()));
}

/// Runs one event end to end and checks what was stored.
async fn round_trip(file: &str, resolver: AuthorizerResolver, text: &str) {
    let db = fresh_db().await.unwrap();
    let tenant = fresh_tenant();
    let layer = TenantLayer::builder().resolver(resolver).build().unwrap();
    let (status, body) = invoke(&db, &layer, lambda_request(file, tenant.as_str(), &[])).await;
    assert_eq!(status, 201, "{file}: {body}");
    assert_eq!(body["tenant"], tenant.as_str());
    assert_eq!(body["text"], text);
    assert_stored(&db, &tenant, body["id"].as_str().unwrap(), text).await;
}

#[tokio::test]
async fn rest_api_cognito_claim() {
    round_trip(
        "apigw_v1_cognito",
        AuthorizerResolver::rest_cognito_claim("custom:tenant_id"),
        "hello from a REST API",
    )
    .await;
}

#[tokio::test]
async fn rest_api_lambda_authorizer_context() {
    round_trip(
        "apigw_v1_lambda_authorizer",
        AuthorizerResolver::rest_authorizer("tenantId"),
        "hello from a REST API",
    )
    .await;
}

#[tokio::test]
async fn http_api_jwt_claim() {
    round_trip(
        "apigw_v2_jwt",
        AuthorizerResolver::http_jwt_claim("custom:tenant_id"),
        "hello from an HTTP API",
    )
    .await;
}

#[tokio::test]
async fn http_api_lambda_authorizer_context() {
    round_trip(
        "apigw_v2_lambda_authorizer",
        AuthorizerResolver::http_lambda_authorizer("tenantId"),
        "hello from an HTTP API",
    )
    .await;
}

#[tokio::test]
async fn one_resolver_for_every_api_gateway_source() {
    let layer_for = |name: &str| {
        TenantLayer::builder()
            .resolver(AuthorizerResolver::any(name))
            .build()
            .unwrap()
    };
    for (file, claim) in [
        ("apigw_v1_cognito", "custom:tenant_id"),
        ("apigw_v1_lambda_authorizer", "tenantId"),
        ("apigw_v2_jwt", "custom:tenant_id"),
        ("apigw_v2_lambda_authorizer", "tenantId"),
    ] {
        let db = fresh_db().await.unwrap();
        let tenant = fresh_tenant();
        let (status, body) = invoke(
            &db,
            &layer_for(claim),
            lambda_request(file, tenant.as_str(), &[]),
        )
        .await;
        assert_eq!(
            (status, body["tenant"].as_str()),
            (201, Some(tenant.as_str())),
            "{file}"
        );
    }
}

#[tokio::test]
async fn lambda_http_puts_the_context_where_the_resolvers_look() {
    let kinds: Vec<(&str, &str)> = ["apigw_v1_cognito", "apigw_v2_jwt", "alb"]
        .into_iter()
        .map(|file| {
            let request = lambda_request(file, "acme", &[]);
            let kind = match request.extensions().get::<RequestContext>() {
                Some(RequestContext::ApiGatewayV1(_)) => "v1",
                Some(RequestContext::ApiGatewayV2(_)) => "v2",
                Some(RequestContext::Alb(_)) => "alb",
                _ => "other",
            };
            (file, kind)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("apigw_v1_cognito", "v1"),
            ("apigw_v2_jwt", "v2"),
            ("alb", "alb")
        ]
    );
    // REST APIs: the stage is in front of the path, as the service sees it.
    let request = lambda_request("apigw_v1_cognito", "acme", &[]);
    assert_eq!(request.uri().path(), "/prod/memos");
    let request = lambda_request("apigw_v2_jwt", "acme", &[]);
    assert_eq!(request.uri().path(), "/memos");
}

#[tokio::test]
async fn claims_that_are_missing_malformed_or_of_another_source() {
    let db = fresh_db().await.unwrap();
    let jwt = TenantLayer::builder()
        .resolver(AuthorizerResolver::http_jwt_claim("custom:tenant_id"))
        .build()
        .unwrap();
    let claim = "/requestContext/authorizer/jwt/claims/custom:tenant_id";
    let cases = [
        // No such claim: no tenant.
        (
            lambda_request("apigw_v2_jwt", "x", &[(claim, Value::Null)]),
            400,
            "tenant_required",
        ),
        // No authorizer at all.
        (
            lambda_request(
                "apigw_v2_jwt",
                "x",
                &[("/requestContext/authorizer", Value::Null)],
            ),
            400,
            "tenant_required",
        ),
        // An invalid tenant id in a verified claim is still invalid.
        (
            lambda_request("apigw_v2_jwt", "acme#admin", &[]),
            400,
            "invalid_tenant_id",
        ),
        (
            lambda_request("apigw_v2_jwt", "", &[]),
            400,
            "invalid_tenant_id",
        ),
        // A v2 JWT resolver finds nothing in a v1 or ALB event.
        (
            lambda_request("apigw_v1_cognito", "acme", &[]),
            400,
            "tenant_required",
        ),
        (lambda_request("alb", "acme", &[]), 400, "tenant_required"),
    ];
    for (request, status, code) in cases {
        let (got, body) = invoke(&db, &jwt, request).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    // A Lambda authorizer's context value that is not a string is malformed.
    let lambda = TenantLayer::builder()
        .resolver(AuthorizerResolver::rest_authorizer("tenantId"))
        .build()
        .unwrap();
    let request = lambda_request(
        "apigw_v1_lambda_authorizer",
        "x",
        &[("/requestContext/authorizer/tenantId", json!({"id": "acme"}))],
    );
    let (status, body) = invoke(&db, &lambda, request).await;
    assert_eq!(
        body,
        json!({"error": "invalid_tenant_id", "message": "invalid tenant id: the tenant claim is not a string"})
    );
    assert_eq!(status, 400);
    // An integer context value is its decimal text.
    let request = lambda_request(
        "apigw_v1_lambda_authorizer",
        "x",
        &[("/requestContext/authorizer/tenantId", json!(4711))],
    );
    let (status, body) = invoke(&db, &lambda, request).await;
    assert_eq!((status, body["tenant"].as_str()), (201, Some("4711")));
    assert!(raw_scan(&db)
        .await
        .iter()
        .all(|item| s(item, "_pk").is_some_and(|pk| pk.starts_with("[4711]#memo#"))));
}

#[tokio::test]
async fn a_machine_clients_id_maps_to_its_accounts_tenant() {
    let db = fresh_db().await.unwrap();
    let tenant = fresh_tenant();
    let mut clients = std::collections::HashMap::new();
    clients.insert("5q8lkv0m2hnr1t3s4u6w7x9y0z".to_owned(), tenant.clone());
    let layer = TenantLayer::builder()
        .resolver(
            AuthorizerResolver::new(ContextSource::HttpJwtClaims, "client_id").mapped(clients),
        )
        .build()
        .unwrap();
    let request = lambda_request("apigw_v2_jwt", "ignored", &[]);
    let (status, body) = invoke(&db, &layer, request).await;
    assert_eq!(
        (status, body["tenant"].as_str()),
        (201, Some(tenant.as_str()))
    );
    assert_stored(
        &db,
        &tenant,
        body["id"].as_str().unwrap(),
        "hello from an HTTP API",
    )
    .await;

    let request = lambda_request(
        "apigw_v2_jwt",
        "ignored",
        &[(
            "/requestContext/authorizer/jwt/claims/client_id",
            json!("unknown-client"),
        )],
    );
    let (status, body) = invoke(&db, &layer, request).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"error": "tenant_forbidden", "message": "not allowed to use this tenant"})
        )
    );
}

/// ALB: no authorizer, so the tenant is a header, checked against a principal that the
/// function's own authentication found (here: an API key header looked up in a table).
#[tokio::test]
async fn alb_header_checked_against_the_principal() {
    #[derive(Clone)]
    struct Caller {
        tenants: Arc<Vec<TenantId>>,
    }
    let db = fresh_db().await.unwrap();
    let tenant = fresh_tenant();
    let allowed = Arc::new(vec![tenant.clone()]);
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .authorizer(authorize_principal(|caller: &Caller, t: &TenantId| {
            let ok = caller.tenants.contains(t);
            async move { Ok(ok) }
        }))
        .build()
        .unwrap();
    let authenticated = |mut request: Request| {
        if request
            .headers()
            .get("x-api-key")
            .is_some_and(|k| k == "alb-key")
        {
            request.extensions_mut().insert(Caller {
                tenants: allowed.clone(),
            });
        }
        request
    };

    let request = authenticated(lambda_request("alb", tenant.as_str(), &[]));
    let (status, body) = invoke(&db, &layer, request).await;
    assert_eq!(
        (status, body["tenant"].as_str()),
        (201, Some(tenant.as_str())),
        "{body}"
    );
    assert_stored(
        &db,
        &tenant,
        body["id"].as_str().unwrap(),
        "hello from an ALB",
    )
    .await;

    let other = fresh_tenant();
    let request = authenticated(lambda_request("alb", other.as_str(), &[]));
    assert_eq!(
        invoke(&db, &layer, request).await.1["error"],
        "tenant_forbidden"
    );
    let request = authenticated(lambda_request(
        "alb",
        tenant.as_str(),
        &[("/headers/x-api-key", json!("wrong"))],
    ));
    assert_eq!(
        invoke(&db, &layer, request).await.1["error"],
        "unauthorized"
    );
    // A claims resolver in front finds nothing in an ALB event and passes on to the header.
    let with_claims = TenantLayer::builder()
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .resolver(AuthorizerResolver::any("tenantId"))
        .resolver(HeaderResolver::default())
        .authorizer(authorize_principal(|caller: &Caller, t: &TenantId| {
            let ok = caller.tenants.contains(t);
            async move { Ok(ok) }
        }))
        .build()
        .unwrap();
    let request = authenticated(lambda_request("alb", tenant.as_str(), &[]));
    let (status, _) = invoke(&db, &with_claims, request).await;
    assert_eq!(status, 201);
    assert_eq!(raw_scan(&db).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The lambda_handler example

/// An HTTP API (v2) request of the example's API, from the JWT event file.
fn notes_request(
    tenant: &str,
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
) -> Request {
    let body = body.map_or(Value::Null, |b| Value::String(b.to_string()));
    lambda_request(
        "apigw_v2_jwt",
        tenant,
        &[
            ("/rawPath", json!(path)),
            ("/rawQueryString", json!(query)),
            ("/requestContext/http/method", json!(method)),
            ("/requestContext/http/path", json!(path)),
            ("/body", body),
            ("/headers/content-length", Value::Null),
        ],
    )
}

#[tokio::test]
async fn the_lambda_handler_example_serves_notes_per_verified_tenant() {
    let db = fresh_db().await.unwrap();
    let service = lambda_handler::service(db.clone()).unwrap();
    let call = |request: Request| {
        let service = service.clone();
        async move { body_json(service.oneshot(request).await.unwrap()).await }
    };
    let (alice, bob) = (fresh_tenant(), fresh_tenant());

    let (status, created) = call(notes_request(
        alice.as_str(),
        "POST",
        "/notes",
        "",
        Some(json!({"title": "plan", "body": "ship it", "tag": "work"})),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["title"], &created["tag"], &created["version"]),
        (&json!("plan"), &json!("work"), &json!(1))
    );
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, read) = call(notes_request(
        alice.as_str(),
        "GET",
        &format!("/notes/{id}"),
        "",
        None,
    ))
    .await;
    assert_eq!((status, &read), (200, &created));
    let (status, listed) = call(notes_request(
        alice.as_str(),
        "GET",
        "/notes",
        "tag=work&limit=10",
        None,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"], json!([created.clone()]));

    // Another tenant's claim sees nothing of it.
    let (status, body) = call(notes_request(
        bob.as_str(),
        "GET",
        &format!("/notes/{id}"),
        "",
        None,
    ))
    .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (_, listed) = call(notes_request(
        bob.as_str(),
        "GET",
        "/notes",
        "tag=work",
        None,
    ))
    .await;
    assert_eq!(listed["items"], json!([]));

    // No claim: 400; health needs none.
    let mut no_claim = notes_request("x", "GET", "/notes", "tag=work", None);
    no_claim.extensions_mut().remove::<RequestContext>();
    let (status, body) = call(no_claim).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "tenant_required", "message": "this request needs a tenant"})
        )
    );
    let (status, body) = call(notes_request("acme#x", "GET", "/health", "", None)).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    let items = raw_scan(&db).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        s(&items[0], "_pk"),
        Some(format!("[{alice}]#note#{id}").as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Non-HTTP events

/// The body of an SQS record as JSON.
fn sqs_body(record: &Value) -> Value {
    serde_json::from_str(record["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn sqs_records_each_run_in_their_own_tenant() {
    let db = fresh_db().await.unwrap();
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let event: Value = serde_json::from_str(
        &include_str!("events/sqs.json")
            .replace("__TENANT_A__", a.as_str())
            .replace("__TENANT_B__", b.as_str()),
    )
    .unwrap();
    let records = event["Records"].as_array().unwrap().clone();
    let outcomes = for_each_in_tenant(
        records,
        |record| tenant_at(&sqs_body(record), "/tenant_id"),
        |record| {
            let db = db.clone();
            async move {
                let tenant = TenantContext::resolve().await?;
                let text = sqs_body(&record)["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let memo = Memo::create(
                    &db,
                    Memo {
                        id: Ulid::nil(),
                        text,
                    },
                )
                .await?;
                Ok::<_, Error>((tenant, memo.id))
            }
        },
    )
    .await;
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0].as_ref().unwrap().0, a);
    assert_eq!(outcomes[1].as_ref().unwrap().0, b);
    assert!(
        matches!(&outcomes[2], Err(Error::InvalidTenantId { value, .. }) if value == "bad#tenant"),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(outcomes[3].as_ref().unwrap().0, a);

    let mut stored: Vec<(String, String)> = raw_scan(&db)
        .await
        .iter()
        .map(|item| {
            (
                s(item, "_pk")
                    .unwrap()
                    .split('#')
                    .next()
                    .unwrap()
                    .to_owned(),
                s(item, "text").unwrap().to_owned(),
            )
        })
        .collect();
    stored.sort();
    let mut expected = vec![
        (format!("[{a}]"), "first for A".to_owned()),
        (format!("[{a}]"), "second for A".to_owned()),
        (format!("[{b}]"), "first for B".to_owned()),
    ];
    expected.sort();
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn eventbridge_detail_names_the_tenant() {
    let db = fresh_db().await.unwrap();
    let tenant = fresh_tenant();
    let event: Value = serde_json::from_str(
        &include_str!("events/eventbridge.json").replace("__TENANT__", tenant.as_str()),
    )
    .unwrap();
    let outcomes = for_each_in_tenant(
        [event.clone()],
        |e| tenant_at(e, "/detail/tenant_id"),
        |e| {
            let db = db.clone();
            async move {
                let text = e["detail"]["text"].as_str().unwrap_or_default().to_owned();
                Memo::create(
                    &db,
                    Memo {
                        id: Ulid::nil(),
                        text,
                    },
                )
                .await
            }
        },
    )
    .await;
    let memo = outcomes.into_iter().next().unwrap().unwrap();
    assert_stored(&db, &tenant, &memo.id.to_string(), "from EventBridge").await;

    // Missing and malformed tenants are errors of their own, never a default tenant.
    assert!(matches!(
        tenant_at(&event, "/detail/tenant"),
        Err(Error::TenantRequired)
    ));
    assert!(matches!(
        tenant_at(&json!({"t": null}), "/t"),
        Err(Error::TenantRequired)
    ));
    assert!(matches!(
        tenant_at(&json!({"t": ["acme"]}), "/t"),
        Err(Error::InvalidTenantId {
            reason: "is not a string",
            ..
        })
    ));
    assert!(matches!(
        tenant_at(&json!({"t": "a b"}), "/t"),
        Err(Error::InvalidTenantId { .. })
    ));
    assert_eq!(tenant_at(&json!({"t": 42}), "/t").unwrap(), "42");
}

#[tokio::test]
async fn dynamodb_stream_records_name_their_tenant_in_the_key() {
    let db = fresh_db().await.unwrap();
    let tenant = fresh_tenant();
    let memo = TenantContext::run_with_tenant(&tenant, async {
        Memo::create(
            &db,
            Memo {
                id: Ulid::nil(),
                text: "streamed".into(),
            },
        )
        .await
    })
    .await
    .unwrap();
    let pk = format!("[{tenant}]#memo#{}", memo.id);
    let event: Value = serde_json::from_str(
        &include_str!("events/dynamodb_stream.json")
            .replace("__PK__", &pk)
            .replace("__SK__", &format!("[{tenant}]#memo#_")),
    )
    .unwrap();
    let records = event["Records"].as_array().unwrap().clone();
    let outcomes = for_each_in_tenant(
        records,
        |r| {
            r.pointer("/dynamodb/Keys/_pk/S")
                .and_then(Value::as_str)
                .and_then(tenant_of_key)
                .ok_or(Error::TenantRequired)
        },
        |_record| {
            let db = db.clone();
            let id = memo.id;
            // Read back under the record's tenant: found.
            async move { Memo::find(&db, &id).await }
        },
    )
    .await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].as_ref().unwrap().as_ref(), Some(&memo));

    assert_eq!(tenant_of_key(&pk), Some(tenant.clone()));
    assert_eq!(
        tenant_of_key("plan#basic"),
        None,
        "a global key has no tenant"
    );
    assert_eq!(tenant_of_key("[a#b]#memo#1"), None);
    assert_eq!(tenant_of_key(""), None);
}
