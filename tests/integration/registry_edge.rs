//! The registry at the edge: the layer's gate, the registry's lookups behind the resolvers, and
//! the axum extractors and responses (features `http`, `registry`, `axum`).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use dynabao::http::{
    ApiKeyResolver, DomainResolver, ErrorResponse, HeaderResolver, ResolvedTenant,
    SubdomainResolver, TenantLayer,
};
use dynabao::registry::{CurrentTenant, NewTenant, TenantRegistry, TenantStatus};
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::Error;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::registry::Settings;

type R<T = ()> = dynabao::Result<T>;
type Registry = TenantRegistry<Settings>;

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn with_tenant(tenant: &str) -> Request<Body> {
    Request::get("/me")
        .header("x-tenant-id", tenant)
        .body(Body::empty())
        .expect("request")
}

fn code(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    json["error"].as_str().unwrap_or_default().to_owned()
}

/// A handler that reads the current tenant's record from the extractor.
async fn me(tenant: CurrentTenant<Settings>) -> String {
    format!("{} {}", tenant.name, tenant.config.currency)
}

#[tokio::test]
async fn the_gate_admits_active_tenants_and_refuses_the_rest() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let registry = Registry::builder(&db)
        .on_provision("fails once", {
            let failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            move |_| {
                let first = !failed.swap(true, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if first {
                        Err("not yet".to_owned())
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .build()?;
    let pending = fresh_tenant();
    assert!(registry
        .provision(NewTenant::new(pending.as_str(), "P"))
        .await
        .is_err());
    let active = fresh_tenant();
    registry
        .provision(NewTenant::new(active.as_str(), "Acme"))
        .await?;
    let suspended = fresh_tenant();
    registry
        .provision(NewTenant::new(suspended.as_str(), "S"))
        .await?;
    registry
        .set_status(&suspended, TenantStatus::Suspended)
        .await?;

    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default().verified())
        .gate(registry.gate())
        .build()?;
    let app = Router::new().route("/me", get(me)).layer(layer);

    assert_eq!(
        call(&app, with_tenant(active.as_str())).await,
        (StatusCode::OK, "Acme USD".into())
    );
    let before = counter.count();
    for _ in 0..20 {
        assert_eq!(
            call(&app, with_tenant(active.as_str())).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        counter.count(),
        before,
        "the gate's lookups come from the cache"
    );

    let (status, body) = call(&app, with_tenant(fresh_tenant().as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
    let (status, body) = call(&app, with_tenant(suspended.as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    let (status, body) = call(&app, with_tenant(pending.as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "tenant_unavailable")
    );
    assert!(
        !body.contains(pending.as_str()),
        "nothing internal leaked: {body}"
    );

    // Suspending through the registry is seen by the next request.
    registry
        .set_status(&active, TenantStatus::Suspended)
        .await?;
    let (status, body) = call(&app, with_tenant(active.as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    registry.set_status(&active, TenantStatus::Active).await?;
    registry
        .update_config(&active, |c| c.currency = "EUR".into())
        .await?;
    assert_eq!(call(&app, with_tenant(active.as_str())).await.1, "Acme EUR");

    // Offboarding: unavailable at once.
    let leaving = fresh_tenant();
    registry
        .provision(NewTenant::new(leaving.as_str(), "L"))
        .await?;
    assert_eq!(
        call(&app, with_tenant(leaving.as_str())).await.0,
        StatusCode::OK
    );
    let job = registry.offboarding(&leaving).await?;
    let (status, body) = call(&app, with_tenant(leaving.as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "tenant_unavailable")
    );
    job.run().await?;
    assert_eq!(
        call(&app, with_tenant(leaving.as_str())).await.0,
        StatusCode::NOT_FOUND
    );

    // Configured to hide which tenants exist.
    let hiding = TenantLayer::builder()
        .resolver(HeaderResolver::default().verified())
        .gate(registry.gate().unknown_as_forbidden())
        .build()?;
    let app = Router::new().route("/me", get(me)).layer(hiding);
    let (status, body) = call(&app, with_tenant(fresh_tenant().as_str())).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "tenant_forbidden")
    );
    Ok(())
}

#[tokio::test]
async fn registry_lookups_resolve_api_keys_subdomains_and_domains() -> R {
    let db = fresh_db().await?;
    let registry = Registry::builder(&db)
        .cache_ttl(Duration::from_secs(60))
        .build()?;
    // Upper-case ids: with a lookup, the subdomain resolver does not fold case.
    let t = fresh_tenant();
    let label = t.as_str().to_ascii_lowercase();
    registry
        .provision(NewTenant::new(t.as_str(), "Hosts").subdomain(label.as_str()))
        .await?;
    let domain = format!("billing.{label}.test");
    registry.add_domain(&t, &domain).await?;
    let key = registry.issue_api_key(&t, "edge").await?;

    let whoami = |resolver_layer: TenantLayer| {
        Router::new()
            .route(
                "/me",
                get(|r: ResolvedTenant| async move { r.tenant.to_string() }),
            )
            .layer(resolver_layer)
    };
    let by_key = whoami(
        TenantLayer::builder()
            .resolver(ApiKeyResolver::new(registry.api_key_lookup()).bearer())
            .gate(registry.gate())
            .build()?,
    );
    let bearer = |k: &str| {
        Request::get("/me")
            .header("authorization", format!("Bearer {k}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(
        call(&by_key, bearer(key.secret())).await,
        (StatusCode::OK, t.to_string())
    );
    let (status, body) = call(&by_key, bearer("dbk_nope")).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    registry.revoke_api_key(&t, &key.prefix).await?;
    assert_eq!(
        call(&by_key, bearer(key.secret())).await.0,
        StatusCode::UNAUTHORIZED
    );

    let hosts = whoami(
        TenantLayer::builder()
            .resolver(
                SubdomainResolver::new("example.test")?
                    .lookup(registry.subdomain_lookup())
                    .verified(),
            )
            .resolver(DomainResolver::new(registry.domain_lookup()).verified())
            .gate(registry.gate())
            .build()?,
    );
    let host = |h: &str| {
        Request::get("/me")
            .header("host", h)
            .body(Body::empty())
            .expect("request")
    };
    let sub = format!("{}.example.test", label.to_ascii_uppercase());
    assert_eq!(
        call(&hosts, host(&sub)).await,
        (StatusCode::OK, t.to_string())
    );
    assert_eq!(
        call(&hosts, host(&domain)).await,
        (StatusCode::OK, t.to_string())
    );
    let (status, body) = call(&hosts, host("nobody.example.test")).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "tenant_required")
    );
    Ok(())
}

#[tokio::test]
async fn errors_are_responses_and_extractors_need_the_layer() -> R {
    async fn missing() -> Result<String, ErrorResponse> {
        Err(Error::NotFound { model: "Note" }.into())
    }
    async fn stale() -> Result<String, ErrorResponse> {
        Err(Error::VersionConflict {
            model: "Note",
            expected: 1,
            actual: Some(2),
        }
        .into())
    }
    let app = Router::new()
        .route("/missing", get(missing))
        .route("/stale", get(stale))
        .route("/me", get(me))
        .route(
            "/who",
            get(|r: ResolvedTenant| async move { r.tenant.to_string() }),
        );
    let get_ = |p: &str| Request::get(p).body(Body::empty()).expect("request");
    let (status, body) = call(&app, get_("/missing")).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(call(&app, get_("/stale")).await.0, StatusCode::CONFLICT);
    for path in ["/me", "/who"] {
        let (status, body) = call(&app, get_(path)).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            "{path}"
        );
    }
    Ok(())
}
