//! Sources that name different tenants (`403 tenant_mismatch` by default, first answer by
//! configuration) and the case rule of resolvers that fold case.

use std::sync::atomic::{AtomicUsize, Ordering};

use http::StatusCode;

use super::*;

/// Calls `layer` around a handler that records whether it ran and under which tenant.
async fn call(layer: &TenantLayer, request: Request<String>) -> (Response<String>, Option<Seen>) {
    let seen = Arc::new(Mutex::new(None));
    let slot = seen.clone();
    let handler = service_fn(move |req: Request<String>| {
        let slot = slot.clone();
        async move {
            *slot.lock().unwrap() = Some(Seen {
                scoped: TenantContext::scoped(),
                resolved: req.extensions().get::<ResolvedTenant>().cloned(),
            });
            Ok::<_, Infallible>(Response::new("handled".to_owned()))
        }
    });
    let response = layer.clone().layer(handler).oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (response, seen)
}

/// A request with verified claims naming `claimed_tenant`, a `Host`, and a principal allowed
/// to use `allowed`.
fn claims_and_host(claim: &str, host: &str, allowed: &[&str]) -> Request<String> {
    let mut req = request("/notes", &[("Host", host)], Some(allowed));
    req.extensions_mut()
        .insert(claims(serde_json::json!({ "tenant_id": claim })));
    req
}

fn claim_then_subdomain() -> TenantLayerBuilder {
    TenantLayer::builder()
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .resolver(SubdomainResolver::new("example.com").unwrap())
        .authorizer(principal_authorizer())
}

#[tokio::test]
async fn a_verified_claim_and_a_subdomain_of_another_tenant_are_refused() {
    // Attack: a token for tenant alpha, sent to beta's subdomain. The principal may even use
    // both; the request still names two tenants, and runs as neither.
    let layer = claim_then_subdomain().build().unwrap();
    let (response, seen) = call(
        &layer,
        claims_and_host("alpha", "beta.example.com", &["alpha", "beta"]),
    )
    .await;
    assert_json_error(
        &response,
        403,
        "tenant_mismatch",
        "the request names more than one tenant",
    );
    assert!(!response.body().contains("alpha") && !response.body().contains("beta"));
    assert_eq!(seen, None, "the handler ran");

    // The same, with the claimed source first in the chain.
    let layer = TenantLayer::builder()
        .resolver(SubdomainResolver::new("example.com").unwrap())
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let (response, seen) = call(
        &layer,
        claims_and_host("alpha", "beta.example.com", &["alpha", "beta"]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(seen, None);
}

#[tokio::test]
async fn agreeing_sources_run_as_the_tenant_and_count_as_verified() {
    let layer = claim_then_subdomain().build().unwrap();
    // No principal: had the authorizer been asked, this would be 401. A verified source for
    // the same tenant makes the claimed one need no authorization.
    let mut req = request("/notes", &[("Host", "alpha.example.com")], None);
    req.extensions_mut()
        .insert(claims(serde_json::json!({ "tenant_id": "alpha" })));
    let (response, seen) = call(&layer, req).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.body());
    let seen = seen.unwrap();
    assert_eq!(seen.scoped, Some(tid("alpha")));
    let resolved = seen.resolved.unwrap();
    assert_eq!(
        (resolved.resolver, resolved.trust),
        ("claim", Trust::Verified)
    );

    // Only the claimed source answers: it is authorized as before.
    let (response, _) = call(
        &layer,
        request("/notes", &[("Host", "alpha.example.com")], Some(&["beta"])),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let r = layer
        .resolve(&head("/", &[("Host", b"alpha.example.com")]))
        .await
        .unwrap_err();
    assert_eq!(r.code(), "unauthorized");
}

#[tokio::test]
async fn any_two_sources_that_disagree_are_refused_by_default() {
    // Two claimed sources (a proxy routing by path while the service reads the header).
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .resolver(QueryResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let parts = {
        let mut p = head("/?tenant_id=beta", &[("X-Tenant-ID", b"alpha")]);
        p.extensions.insert(Principal {
            tenants: vec![tid("alpha"), tid("beta")],
        });
        p
    };
    assert!(matches!(
        layer.resolve(&parts).await,
        Err(Rejection::TenantMismatch)
    ));
    // Two verified sources: an API key of acme and a claim of alpha.
    let layer = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .build()
        .unwrap();
    let mut parts = head("/", &[("X-API-Key", b"k-acme-secret")]);
    parts
        .extensions
        .insert(claims(serde_json::json!({ "tenant_id": "alpha" })));
    assert_eq!(
        layer.resolve(&parts).await.unwrap_err().code(),
        "tenant_mismatch"
    );
    // Every resolver is asked, so a malformed later source stops the request too.
    let layer = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let parts = head(
        "/",
        &[("X-API-Key", b"k-acme-secret"), ("X-Tenant-ID", b"a#b")],
    );
    assert_eq!(
        layer.resolve(&parts).await.unwrap_err().code(),
        "invalid_tenant_id"
    );
    let parts = head(
        "/",
        &[("X-API-Key", b"k-acme-secret"), ("X-Tenant-ID", b"acme")],
    );
    assert_eq!(layer.resolve(&parts).await.unwrap().tenant, "acme");
}

#[tokio::test]
async fn first_answer_is_available_by_configuration() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let layer = TenantLayer::builder()
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .resolver(request_resolver_fn("later", Trust::Claimed, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Some(TenantId::new("beta")?))
        }))
        .authorizer(principal_authorizer())
        .on_conflict(SourceConflict::FirstAnswer)
        .build()
        .unwrap();
    let (response, seen) = call(
        &layer,
        claims_and_host("alpha", "beta.example.com", &["beta"]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.unwrap().scoped, Some(tid("alpha")));
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "a later resolver was asked"
    );
    assert_eq!(SourceConflict::default(), SourceConflict::Refuse);
    assert!(format!("{:?}", claim_then_subdomain()).contains("conflict: Refuse"));
}

#[tokio::test]
async fn behind_a_resolver_that_folds_case_only_lowercase_ids_are_usable() {
    // The host is case-insensitive: ACME.example.com is tenant `acme`.
    let layer = TenantLayer::builder()
        .resolver(SubdomainResolver::new("example.com").unwrap())
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let with = |headers: &[(&str, &[u8])]| {
        let mut p = head("/", headers);
        p.extensions.insert(Principal {
            tenants: vec![tid("acme"), tid("Acme")],
        });
        p
    };
    let r = layer
        .resolve(&with(&[("Host", b"ACME.example.com")]))
        .await
        .unwrap();
    assert_eq!(r.tenant, "acme");
    // Attack: `Acme` is another tenant id; behind this layer it can never be used, from any
    // source, so `acme` and `Acme` are never both reachable.
    let err = layer
        .resolve(&with(&[("X-Tenant-ID", b"Acme")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_tenant_id");
    assert_eq!(
        layer
            .resolve(&with(&[("X-Tenant-ID", b"acme")]))
            .await
            .unwrap()
            .tenant,
        "acme"
    );
    // Through a pointer the resolver still folds case.
    let boxed: Box<dyn RequestResolver> = Box::new(SubdomainResolver::new("example.com").unwrap());
    assert!(boxed.folds_case());
    assert!(Arc::new(SubdomainResolver::new("example.com").unwrap()).folds_case());
    assert!(!HeaderResolver::default().folds_case());
    let layer = TenantLayer::builder()
        .resolver(Arc::new(SubdomainResolver::new("example.com").unwrap()))
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    assert_eq!(
        layer
            .resolve(&with(&[("X-Tenant-ID", b"Acme")]))
            .await
            .unwrap_err()
            .code(),
        "invalid_tenant_id"
    );
    // Without such a resolver, ids keep their case.
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    assert_eq!(
        layer
            .resolve(&with(&[("X-Tenant-ID", b"Acme")]))
            .await
            .unwrap()
            .tenant,
        "Acme"
    );
}
