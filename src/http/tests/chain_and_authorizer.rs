//! The chain of resolvers, the authorizer, the builder's checks and the exclusions.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::Error;

/// A resolver with a fixed answer that counts its calls.
fn fixed(
    name: &'static str,
    trust: Trust,
    answer: fn() -> Answer,
) -> (
    FnRequestResolver<impl Fn(&http::request::Parts) -> Answer>,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let resolver = request_resolver_fn(name, trust, move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        answer()
    });
    (resolver, calls)
}

fn with_principal(uri: &str, headers: &[(&str, &[u8])], tenants: &[&str]) -> http::request::Parts {
    let mut parts = head(uri, headers);
    parts.extensions.insert(Principal {
        tenants: tenants.iter().map(|t| tid(t)).collect(),
    });
    parts
}

#[tokio::test]
async fn first_answer_wins_and_later_resolvers_are_not_asked() {
    let (none, none_calls) = fixed("none", Trust::Verified, || Ok(None));
    let (first, first_calls) = fixed("first", Trust::Verified, || Ok(Some(tid("first"))));
    let (second, second_calls) = fixed("second", Trust::Verified, || Ok(Some(tid("second"))));
    let layer = TenantLayer::builder()
        .resolver(none)
        .resolver(first)
        .resolver(second)
        .on_conflict(SourceConflict::FirstAnswer)
        .build()
        .unwrap();
    let resolved = layer.resolve(&head("/", &[])).await.unwrap();
    assert_eq!(resolved.tenant, "first");
    assert_eq!(resolved.resolver, "first");
    assert_eq!(resolved.trust, Trust::Verified);
    assert_eq!(none_calls.load(Ordering::SeqCst), 1);
    assert_eq!(first_calls.load(Ordering::SeqCst), 1);
    assert_eq!(second_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_resolver_error_stops_the_chain() {
    let (failing, _) = fixed("failing", Trust::Verified, || Err(Rejection::Unauthorized));
    let (after, after_calls) = fixed("after", Trust::Verified, || Ok(Some(tid("after"))));
    let layer = TenantLayer::builder()
        .resolver(failing)
        .resolver(after)
        .build()
        .unwrap();
    let err = layer.resolve(&head("/", &[])).await.unwrap_err();
    assert!(matches!(err, Rejection::Unauthorized), "{err:?}");
    assert_eq!(after_calls.load(Ordering::SeqCst), 0);

    // A malformed header is an error too: the query parameter after it is not consulted.
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .resolver(QueryResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let parts = with_principal("/?tenant_id=acme", &[("X-Tenant-ID", b"a#b")], &["acme"]);
    assert_eq!(
        layer.resolve(&parts).await.unwrap_err().code(),
        "invalid_tenant_id"
    );
}

#[tokio::test]
async fn chain_order_decides_between_sources() {
    let layer = TenantLayer::builder()
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .resolver(HeaderResolver::default())
        .resolver(QueryResolver::default())
        .authorizer(principal_authorizer())
        .on_conflict(SourceConflict::FirstAnswer)
        .build()
        .unwrap();
    let both = |claims_too: bool| {
        let mut parts = with_principal(
            "/?tenant_id=gamma",
            &[("X-Tenant-ID", b"beta")],
            &["beta", "gamma"],
        );
        if claims_too {
            parts
                .extensions
                .insert(claims(serde_json::json!({"tenant_id": "alpha"})));
        }
        parts
    };
    let r = layer.resolve(&both(true)).await.unwrap();
    assert_eq!(
        (r.tenant.as_str(), r.resolver, r.trust),
        ("alpha", "claim", Trust::Verified)
    );
    let r = layer.resolve(&both(false)).await.unwrap();
    assert_eq!(
        (r.tenant.as_str(), r.resolver, r.trust),
        ("beta", "header", Trust::Claimed)
    );
    let parts = with_principal("/?tenant_id=gamma", &[], &["gamma"]);
    let r = layer.resolve(&parts).await.unwrap();
    assert_eq!((r.tenant.as_str(), r.resolver), ("gamma", "query"));
    let parts = with_principal("/", &[], &["gamma"]);
    assert!(matches!(
        layer.resolve(&parts).await,
        Err(Rejection::TenantRequired)
    ));
}

#[tokio::test]
async fn authorizer_allows_denies_and_needs_a_principal() {
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .authorizer(principal_authorizer())
        .build()
        .unwrap();
    let allowed = with_principal("/", &[("X-Tenant-ID", b"acme")], &["acme", "globex"]);
    assert_eq!(layer.resolve(&allowed).await.unwrap().tenant, "acme");
    let denied = with_principal("/", &[("X-Tenant-ID", b"initech")], &["acme", "globex"]);
    assert!(matches!(
        layer.resolve(&denied).await,
        Err(Rejection::Forbidden)
    ));
    let anonymous = head("/", &[("X-Tenant-ID", b"acme")]);
    assert!(matches!(
        layer.resolve(&anonymous).await,
        Err(Rejection::Unauthorized)
    ));
    // The tenant id is validated before the authorizer is asked.
    let invalid = with_principal("/", &[("X-Tenant-ID", b"ac me")], &["acme"]);
    assert_eq!(
        layer.resolve(&invalid).await.unwrap_err().code(),
        "invalid_tenant_id"
    );
}

/// An authorizer that counts its calls and answers with a fixed result.
struct CountingAuthorizer {
    calls: Arc<AtomicUsize>,
    allow: bool,
}

impl TenantAuthorizer for CountingAuthorizer {
    fn authorize<'a>(
        &'a self,
        _request: &'a http::request::Parts,
        _tenant: &'a TenantId,
    ) -> AuthorizeFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let allow = self.allow;
        Box::pin(async move {
            if allow {
                Ok(())
            } else {
                Err(Rejection::Forbidden)
            }
        })
    }
}

#[tokio::test]
async fn verified_tenants_skip_the_authorizer_and_claimed_ones_do_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .resolver(HeaderResolver::default())
        .authorizer(CountingAuthorizer {
            calls: calls.clone(),
            allow: false,
        })
        .on_conflict(SourceConflict::FirstAnswer)
        .build()
        .unwrap();
    let parts = head(
        "/",
        &[("X-API-Key", b"k-acme-secret"), ("X-Tenant-ID", b"other")],
    );
    assert_eq!(layer.resolve(&parts).await.unwrap().tenant, "acme");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let parts = head("/", &[("X-Tenant-ID", b"other")]);
    assert!(matches!(
        layer.resolve(&parts).await,
        Err(Rejection::Forbidden)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn authorizer_failures_are_internal() {
    let layer = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .authorizer(authorize_principal(|_: &Principal, _: &TenantId| async {
            Err(Rejection::internal("policy store down"))
        }))
        .build()
        .unwrap();
    let parts = with_principal("/", &[("X-Tenant-ID", b"acme")], &["acme"]);
    assert_eq!(
        layer.resolve(&parts).await.unwrap_err().code(),
        "internal_error"
    );
}

#[test]
fn build_refuses_unsafe_or_empty_configurations() {
    let err = TenantLayer::builder().build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: TenantLayer: add at least one resolver"
    );
    let err = TenantLayer::builder()
        .resolver(ClaimResolver::<VerifiedClaims>::new("tenant_id"))
        .resolver(QueryResolver::default())
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("the query resolver gives a tenant the client chose")),
        "{err}"
    );
    let err = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .exclude("health")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("\"health\"")),
        "{err}"
    );
    let err = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .exclude_prefix("docs")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    // Verified resolvers alone need no authorizer; a header marked verified counts as one.
    let layer = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .resolver(HeaderResolver::default().verified())
        .build()
        .unwrap();
    assert_eq!(
        format!("{layer:?}"),
        "TenantLayer { resolvers: [(\"api_key\", Verified), (\"header\", Verified)], \
         authorizer: false, gate: false, excluded: [] }"
    );
}

#[test]
fn exclusions_match_exact_paths_and_segment_prefixes() {
    let layer = TenantLayer::builder()
        .resolver(ApiKeyResolver::new(keys()))
        .exclude("/health")
        .exclude_prefix("/docs")
        .exclude_prefix("/static/")
        .build()
        .unwrap();
    for (path, excluded) in [
        ("/health", true),
        ("/health/", false),
        ("/healthz", false),
        ("/docs", true),
        ("/docs/", true),
        ("/docs/api/index.html", true),
        ("/docsets", false),
        ("/static/app.js", true),
        ("/static", false),
        ("/notes", false),
        ("/", false),
    ] {
        assert_eq!(layer.is_excluded(path), excluded, "{path}");
    }
}
