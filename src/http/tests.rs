//! Unit tests of the resolvers, the chain, the authorizer, exclusions and the responses.
//! Nothing here talks to DynamoDB; `tests/integration/http_layer.rs` does.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{service_fn, Layer, ServiceExt};

use super::*;
use crate::tenant::{TenantContext, TenantId};
use crate::Error;

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
// Header

#[tokio::test]
async fn header_resolver_hit_miss_malformed() {
    let r = HeaderResolver::default();
    assert_eq!(r.name(), "header");
    assert_eq!(r.trust(), Trust::Claimed);
    assert_eq!(r.header(), "x-tenant-id");
    let cases: Vec<(Headers<'_>, Outcome)> = vec![
        (vec![("X-Tenant-ID", b"acme")], hit("acme")),
        (
            vec![("x-tenant-id", b"Acme-Corp.eu_1")],
            hit("Acme-Corp.eu_1"),
        ),
        (vec![], MISS),
        (vec![("X-Other", b"acme")], MISS),
        (vec![("X-Tenant-ID", b"acme#admin")], INVALID),
        (vec![("X-Tenant-ID", b"")], INVALID),
        (vec![("X-Tenant-ID", b"[acme]")], INVALID),
        (vec![("X-Tenant-ID", b"caf\xc3\xa9")], INVALID),
        (vec![("X-Tenant-ID", b"a"), ("X-Tenant-ID", b"b")], INVALID),
        (vec![("X-Tenant-ID", b"a"), ("X-Tenant-ID", b"a")], INVALID),
    ];
    for (headers, expected) in cases {
        let parts = head("/notes", &headers);
        assert_eq!(outcome(ask(&r, &parts).await), expected, "{headers:?}");
    }
    let custom = HeaderResolver::new(HeaderName::from_static("x-org")).verified();
    assert_eq!(custom.trust(), Trust::Verified);
    let parts = head("/", &[("X-Org", b"globex"), ("X-Tenant-ID", b"acme")]);
    assert_eq!(outcome(ask(&custom, &parts).await), hit("globex"));
}

#[tokio::test]
async fn twice_and_invalid_reasons_are_specific() {
    let r = HeaderResolver::default();
    let parts = head("/", &[("X-Tenant-ID", b"a"), ("X-Tenant-ID", b"b")]);
    match ask(&r, &parts).await {
        Err(Rejection::InvalidTenantId { reason }) => {
            assert_eq!(reason, "the tenant is given more than once")
        }
        other => panic!("{other:?}"),
    }
    let parts = head("/", &[("X-Tenant-ID", b"a#b")]);
    match ask(&r, &parts).await {
        Err(Rejection::InvalidTenantId { reason }) => {
            assert_eq!(reason, "contains '#' (the key separator)")
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Query

#[tokio::test]
async fn query_resolver_hit_miss_malformed() {
    let r = QueryResolver::default();
    assert_eq!((r.name(), r.trust()), ("query", Trust::Claimed));
    let cases = [
        ("/notes?tenant_id=acme", hit("acme")),
        ("/notes?a=1&tenant_id=acme&b=2", hit("acme")),
        ("/notes?tenant_id=ac%6De", hit("acme")),
        ("/notes?tenant%5Fid=acme", hit("acme")),
        ("/notes?tenant_id=acme&tenant_idx=other", hit("acme")),
        ("/notes", MISS),
        ("/notes?", MISS),
        ("/notes?tenant=acme", MISS),
        ("/notes?xtenant_id=acme", MISS),
        ("/notes?tenant_id", INVALID),
        ("/notes?tenant_id=", INVALID),
        ("/notes?tenant_id=ac%23me", INVALID),
        ("/notes?tenant_id=ac+me", INVALID),
        ("/notes?tenant_id=%zz", INVALID),
        ("/notes?tenant_id=%e", INVALID),
        ("/notes?tenant_id=%ff", INVALID),
        ("/notes?tenant_id=a&tenant_id=b", INVALID),
        ("/notes?tenant_id=a&tenant%5fid=a", INVALID),
    ];
    for (uri, expected) in cases {
        assert_eq!(outcome(ask(&r, &head(uri, &[])).await), expected, "{uri}");
    }
    let custom = QueryResolver::new("org").verified();
    assert_eq!(custom.trust(), Trust::Verified);
    assert_eq!(
        outcome(ask(&custom, &head("/?tenant_id=a&org=b", &[])).await),
        hit("b")
    );
}

#[test]
fn percent_decoding() {
    use super::resolvers::percent_decode;
    assert_eq!(percent_decode("a%20b+c", true).as_deref(), Some("a b c"));
    assert_eq!(percent_decode("a%20b+c", false).as_deref(), Some("a b+c"));
    assert_eq!(
        percent_decode("%E2%9C%93", false).as_deref(),
        Some("\u{2713}")
    );
    assert_eq!(percent_decode("%", false), None);
    assert_eq!(percent_decode("%4", false), None);
    assert_eq!(percent_decode("%g0", false), None);
    assert_eq!(percent_decode("%C3", false), None, "not UTF-8");
    assert_eq!(percent_decode("", false).as_deref(), Some(""));
}

// ---------------------------------------------------------------------------------------------
// Path

#[tokio::test]
async fn path_resolver_hit_miss_malformed() {
    let r = PathResolver::new("/tenants/{tenant}").unwrap();
    assert_eq!((r.name(), r.trust()), ("path", Trust::Claimed));
    assert_eq!(r.pattern(), "/tenants/{tenant}");
    let cases = [
        ("/tenants/acme", hit("acme")),
        ("/tenants/acme/", hit("acme")),
        ("/tenants/acme/notes/01J?x=1", hit("acme")),
        ("/tenants/ac%6De/notes", hit("acme")),
        ("/tenants", MISS),
        ("/tenants/", INVALID),
        ("/users/acme", MISS),
        ("/api/tenants/acme", MISS),
        ("/Tenants/acme", MISS),
        ("/", MISS),
        ("/tenants//notes", INVALID),
        ("/tenants/ac%23me/notes", INVALID),
        ("/tenants/ac%zzme", INVALID),
        ("/tenants/a.b_c-d", hit("a.b_c-d")),
    ];
    for (uri, expected) in cases {
        assert_eq!(outcome(ask(&r, &head(uri, &[])).await), expected, "{uri}");
    }

    let nested = PathResolver::new("/v1/orgs/{org}/tenants/{tenant}/").unwrap();
    assert_eq!(
        outcome(ask(&nested, &head("/v1/orgs/o1/tenants/acme/x", &[])).await),
        hit("acme")
    );
    assert_eq!(
        outcome(ask(&nested, &head("/v2/orgs/o1/tenants/acme", &[])).await),
        MISS
    );
    let wildcard = PathResolver::new("/*/{tenant}").unwrap();
    assert_eq!(
        outcome(ask(&wildcard, &head("/anything/acme", &[])).await),
        hit("acme")
    );
    assert_eq!(
        PathResolver::new("/t/{tenant}").unwrap().verified().trust(),
        Trust::Verified
    );
}

#[test]
fn path_patterns_are_checked() {
    for bad in [
        "tenants/{tenant}",
        "/tenants",
        "/tenants/{tenant}/{tenant}",
        "/tenants//{tenant}",
        "/x{y/{tenant}",
        "",
    ] {
        let err = PathResolver::new(bad).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad:?}: {err:?}");
    }
    let err = PathResolver::new("/tenants").unwrap_err();
    assert_eq!(
        err.to_string(),
        "configuration error: path pattern \"/tenants\": has no {tenant} segment"
    );
}

// ---------------------------------------------------------------------------------------------
// Subdomain and custom domain

#[tokio::test]
async fn subdomain_resolver_hit_miss_malformed() {
    let r = SubdomainResolver::new("example.com").unwrap().ignore("API");
    assert_eq!((r.name(), r.trust()), ("subdomain", Trust::Claimed));
    let cases: Vec<(&str, Headers<'_>, Outcome)> = vec![
        ("/", vec![("Host", b"acme.example.com")], hit("acme")),
        ("/", vec![("Host", b"ACME.Example.COM:8443")], hit("acme")),
        ("/", vec![("Host", b"acme.example.com.")], hit("acme")),
        ("/", vec![("Host", b"ac_me.example.com")], hit("ac_me")),
        ("/", vec![("Host", b"example.com")], MISS),
        ("/", vec![("Host", b"www.example.com")], MISS),
        ("/", vec![("Host", b"api.example.com")], MISS),
        ("/", vec![("Host", b"a.b.example.com")], MISS),
        ("/", vec![("Host", b"acmeexample.com")], MISS),
        ("/", vec![("Host", b"acme.example.org")], MISS),
        ("/", vec![("Host", b"127.0.0.1:3000")], MISS),
        ("/", vec![("Host", b"[::1]:3000")], MISS),
        ("/", vec![], MISS),
        ("/", vec![("Host", b".example.com")], MISS),
        ("/", vec![("Host", b"a+b.example.com")], INVALID),
        (
            "/",
            vec![("Host", b"a.example.com"), ("Host", b"b.example.com")],
            INVALID,
        ),
        // HTTP/2 and absolute-form requests carry the host in the URI.
        ("http://globex.example.com/notes", vec![], hit("globex")),
        (
            "http://globex.example.com/notes",
            vec![("Host", b"acme.example.com")],
            hit("acme"),
        ),
    ];
    for (uri, headers, expected) in cases {
        let parts = head(uri, &headers);
        assert_eq!(
            outcome(ask(&r, &parts).await),
            expected,
            "{uri} {headers:?}"
        );
    }
    assert_eq!(
        SubdomainResolver::new(".Example.com.")
            .unwrap()
            .verified()
            .trust(),
        Trust::Verified
    );
    for bad in ["", ".", "exa mple.com", "a..b", "ex#ample.com"] {
        assert!(
            matches!(SubdomainResolver::new(bad), Err(Error::Config(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn domain_resolver_maps_hosts_through_the_lookup() {
    let mut domains = HashMap::new();
    domains.insert("billing.acme.com".to_owned(), tid("acme"));
    let r = DomainResolver::new(domains);
    assert_eq!((r.name(), r.trust()), ("domain", Trust::Claimed));
    let cases: Vec<(Headers<'_>, Outcome)> = vec![
        (vec![("Host", b"billing.acme.com")], hit("acme")),
        (vec![("Host", b"Billing.ACME.com:443")], hit("acme")),
        (vec![("Host", b"other.acme.com")], MISS),
        (vec![], MISS),
        (vec![("Host", b"a.com"), ("Host", b"b.com")], INVALID),
    ];
    for (headers, expected) in cases {
        let parts = head("/", &headers);
        assert_eq!(outcome(ask(&r, &parts).await), expected, "{headers:?}");
    }

    let down = DomainResolver::new(lookup_fn(|_host: String| async {
        Err(Rejection::internal("registry unreachable"))
    }))
    .verified();
    assert_eq!(down.trust(), Trust::Verified);
    let parts = head("/", &[("Host", b"billing.acme.com")]);
    assert_eq!(outcome(ask(&down, &parts).await), Err("internal_error"));
    assert!(format!("{down:?}").starts_with("DomainResolver"));
}

// ---------------------------------------------------------------------------------------------
// API key

fn keys() -> BTreeMap<String, TenantId> {
    let mut keys = BTreeMap::new();
    keys.insert("k-acme-secret".to_owned(), tid("acme"));
    keys
}

#[tokio::test]
async fn api_key_resolver_hit_miss_malformed() {
    let r = ApiKeyResolver::new(keys());
    assert_eq!((r.name(), r.trust()), ("api_key", Trust::Verified));
    let cases: Vec<(Headers<'_>, Outcome)> = vec![
        (vec![("X-API-Key", b"k-acme-secret")], hit("acme")),
        (vec![("X-API-Key", b" k-acme-secret ")], hit("acme")),
        (vec![], MISS),
        (vec![("Authorization", b"Bearer k-acme-secret")], MISS),
        (vec![("X-API-Key", b"k-unknown")], Err("unauthorized")),
        (vec![("X-API-Key", b"")], Err("unauthorized")),
        (vec![("X-API-Key", b"\xff")], Err("unauthorized")),
        (
            vec![
                ("X-API-Key", b"k-acme-secret"),
                ("X-API-Key", b"k-acme-secret"),
            ],
            Err("unauthorized"),
        ),
    ];
    for (headers, expected) in cases {
        let parts = head("/", &headers);
        assert_eq!(outcome(ask(&r, &parts).await), expected, "{headers:?}");
    }

    let bearer = ApiKeyResolver::new(keys()).bearer();
    let cases: Vec<(Headers<'_>, Outcome)> = vec![
        (
            vec![("Authorization", b"Bearer k-acme-secret")],
            hit("acme"),
        ),
        (
            vec![("Authorization", b"bearer  k-acme-secret")],
            hit("acme"),
        ),
        (vec![("Authorization", b"Basic dXNlcjpwYXNz")], MISS),
        (vec![("Authorization", b"Bearer")], MISS),
        (vec![("X-API-Key", b"k-acme-secret")], MISS),
        (vec![("Authorization", b"Bearer nope")], Err("unauthorized")),
    ];
    for (headers, expected) in cases {
        let parts = head("/", &headers);
        assert_eq!(outcome(ask(&bearer, &parts).await), expected, "{headers:?}");
    }

    let custom = ApiKeyResolver::new(keys()).header(HeaderName::from_static("x-key"));
    let parts = head("/", &[("X-Key", b"k-acme-secret")]);
    assert_eq!(outcome(ask(&custom, &parts).await), hit("acme"));

    let failing = ApiKeyResolver::new(lookup_fn(|_key: String| async {
        Err(Rejection::internal("accounts service down"))
    }));
    let parts = head("/", &[("X-API-Key", b"k-acme-secret")]);
    assert_eq!(outcome(ask(&failing, &parts).await), Err("internal_error"));
}

#[tokio::test]
async fn api_keys_appear_in_no_debug_output_or_error() {
    let r = ApiKeyResolver::new(keys());
    assert!(!format!("{r:?}").contains("k-acme-secret"));
    let parts = head("/", &[("X-API-Key", b"k-wrong-secret")]);
    let err = ask(&r, &parts).await.unwrap_err();
    let described = format!("{err} {err:?}");
    let shown = format!("{described} {}", ErrorResponse::from(err).to_json());
    assert!(!shown.contains("k-wrong-secret"), "{shown}");
    assert!(!format!("{:?}", lookup_fn(|_: String| async { Ok(None) })).contains("k-"));
}

// ---------------------------------------------------------------------------------------------
// Verified claims

fn claims(json: serde_json::Value) -> VerifiedClaims {
    match json {
        serde_json::Value::Object(map) => VerifiedClaims(map),
        other => panic!("not an object: {other}"),
    }
}

fn with_ext<T: Clone + Send + Sync + 'static>(ext: T) -> http::request::Parts {
    let mut parts = head("/notes", &[]);
    parts.extensions.insert(ext);
    parts
}

#[tokio::test]
async fn claim_resolver_hit_miss_malformed() {
    let r: ClaimResolver = ClaimResolver::new("custom:tenant_id");
    assert_eq!((r.name(), r.trust()), ("claim", Trust::Verified));
    let cases = [
        (serde_json::json!({"custom:tenant_id": "acme"}), hit("acme")),
        (serde_json::json!({"custom:tenant_id": 42}), hit("42")),
        (serde_json::json!({"sub": "u1"}), MISS),
        (serde_json::json!({"custom:tenant_id": "a#b"}), INVALID),
        (serde_json::json!({"custom:tenant_id": ""}), INVALID),
        (serde_json::json!({"custom:tenant_id": ["acme"]}), INVALID),
        (serde_json::json!({"custom:tenant_id": null}), INVALID),
        (serde_json::json!({"custom:tenant_id": 1.5}), INVALID),
        (serde_json::json!({"custom:tenant_id": true}), INVALID),
    ];
    for (json, expected) in cases {
        let parts = with_ext(claims(json.clone()));
        assert_eq!(outcome(ask(&r, &parts).await), expected, "{json}");
    }
    // No verified identity at all: no answer.
    assert_eq!(outcome(ask(&r, &head("/", &[])).await), MISS);
    // Claims of another type are not read by a resolver of this type.
    let mut plain = HashMap::new();
    plain.insert("custom:tenant_id".to_owned(), "acme".to_owned());
    assert_eq!(outcome(ask(&r, &with_ext(plain.clone())).await), MISS);
    let typed: ClaimResolver<HashMap<String, String>> = ClaimResolver::new("custom:tenant_id");
    assert_eq!(outcome(ask(&typed, &with_ext(plain)).await), hit("acme"));
    assert_eq!(
        format!("{typed:?}"),
        "ClaimResolver { claim: \"custom:tenant_id\", mapped: false }"
    );
}

#[tokio::test]
async fn claim_resolver_maps_client_ids_through_the_lookup() {
    let mut clients = HashMap::new();
    clients.insert("client-7".to_owned(), tid("acme"));
    let r: ClaimResolver = ClaimResolver::mapped("client_id", clients);
    let cases = [
        (serde_json::json!({"client_id": "client-7"}), hit("acme")),
        (
            serde_json::json!({"client_id": "client-8"}),
            Err("tenant_forbidden"),
        ),
        // Any string maps; it need not be a valid tenant id itself.
        (
            serde_json::json!({"client_id": "a#b"}),
            Err("tenant_forbidden"),
        ),
        (serde_json::json!({"client_id": {"x": 1}}), INVALID),
        (serde_json::json!({"sub": "u"}), MISS),
    ];
    for (json, expected) in cases {
        let parts = with_ext(claims(json.clone()));
        assert_eq!(outcome(ask(&r, &parts).await), expected, "{json}");
    }
    assert!(format!("{:?}", r.clone()).contains("mapped: true"));
}

/// A service's own claims type.
#[derive(Clone)]
struct MyClaims {
    org: Option<String>,
}

impl Claims for MyClaims {
    fn claim(&self, name: &str) -> Option<Result<std::borrow::Cow<'_, str>, &'static str>> {
        match name {
            "org" => self.org.as_deref().map(|o| Ok(o.into())),
            _ => None,
        }
    }
}

#[tokio::test]
async fn claims_of_a_custom_type() {
    let r: ClaimResolver<MyClaims> = ClaimResolver::new("org");
    let parts = with_ext(MyClaims {
        org: Some("globex".into()),
    });
    assert_eq!(outcome(ask(&r, &parts).await), hit("globex"));
    let parts = with_ext(MyClaims { org: None });
    assert_eq!(outcome(ask(&r, &parts).await), MISS);
}

// ---------------------------------------------------------------------------------------------
// The chain and the authorizer

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
         authorizer: false, excluded: [] }"
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

// ---------------------------------------------------------------------------------------------
// The service: scoping, extensions, responses

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

#[tokio::test]
async fn the_service_scopes_the_handler_and_shares_the_resolution() {
    let (response, seen) = send(request(
        "/notes",
        &[("X-Tenant-ID", "acme")],
        Some(&["acme"]),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "handled");
    assert_eq!(
        seen,
        Some(Seen {
            scoped: Some(tid("acme")),
            resolved: Some(ResolvedTenant {
                tenant: tid("acme"),
                resolver: "header",
                trust: Trust::Claimed,
            }),
        })
    );
    let (_, seen) = send(request("/notes", &[("X-API-Key", "k-acme")], None)).await;
    let seen = seen.unwrap();
    assert_eq!(seen.scoped, Some(tid("acme")));
    assert_eq!(seen.resolved.unwrap().resolver, "api_key");
    // After the request, nothing is scoped here.
    assert_eq!(TenantContext::scoped(), None);
}

#[tokio::test]
async fn excluded_paths_run_with_no_tenant() {
    let (response, seen) = send(request("/health", &[], None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        seen,
        Some(Seen {
            scoped: None,
            resolved: None
        })
    );
    // Even when the request names a tenant, and even an invalid one.
    let (response, seen) = send(request("/health", &[("X-Tenant-ID", "a#b")], None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.unwrap().scoped, None);
}

#[tokio::test]
async fn each_rejection_has_its_status_and_body() {
    let cases: Vec<(Request<String>, u16, &str, &str)> = vec![
        (
            request("/notes", &[], Some(&["acme"])),
            400,
            "tenant_required",
            "this request needs a tenant",
        ),
        (
            request("/notes", &[("X-Tenant-ID", "acme#admin")], Some(&["acme"])),
            400,
            "invalid_tenant_id",
            "invalid tenant id: contains '#' (the key separator)",
        ),
        (
            request("/notes", &[("X-Tenant-ID", "acme")], None),
            401,
            "unauthorized",
            "missing or invalid credentials",
        ),
        (
            request("/notes", &[("X-API-Key", "k-unknown")], None),
            401,
            "unauthorized",
            "missing or invalid credentials",
        ),
        (
            request("/notes", &[("X-Tenant-ID", "globex")], Some(&["acme"])),
            403,
            "tenant_forbidden",
            "not allowed to use this tenant",
        ),
        (
            request("/notes", &[("X-API-Key", "k-broken")], None),
            500,
            "internal_error",
            "internal server error",
        ),
    ];
    for (req, status, code, message) in cases {
        let uri = format!("{:?}", req.headers());
        let (response, seen) = send(req).await;
        assert_json_error(&response, status, code, message);
        assert_eq!(seen, None, "the handler must not run: {uri}");
        assert!(!response.body().contains("10.0.0.7"));
    }
}

#[test]
fn rejections_codes_statuses_and_conversions() {
    let table = [
        (Rejection::TenantRequired, 400, "tenant_required"),
        (
            Rejection::InvalidTenantId { reason: "x" },
            400,
            "invalid_tenant_id",
        ),
        (Rejection::Unauthorized, 401, "unauthorized"),
        (Rejection::Forbidden, 403, "tenant_forbidden"),
        (Rejection::internal("boom"), 500, "internal_error"),
    ];
    for (rejection, status, code) in table {
        assert_eq!(rejection.status().as_u16(), status);
        assert_eq!(rejection.code(), code);
        let response: Response<String> = rejection.into_response();
        assert_eq!(response.status().as_u16(), status);
    }
    assert!(matches!(
        Rejection::from(TenantId::new("").unwrap_err()),
        Rejection::InvalidTenantId { reason: "is empty" }
    ));
    assert!(matches!(
        Rejection::from(Error::TenantRequired),
        Rejection::TenantRequired
    ));
    let internal = Rejection::from(crate::tenant::resolver_error("registry down"));
    assert_eq!(
        internal.to_string(),
        "tenant resolution failed: registry down"
    );
    assert!(std::error::Error::source(&internal).is_some());
    assert!(matches!(
        Rejection::from(Error::Config("x".into())),
        Rejection::Internal(_)
    ));
}

#[test]
fn error_responses_map_dynabao_errors_without_leaking() {
    let cases: Vec<(Error, u16, &str, &str)> = vec![
        (
            TenantId::new("a b").unwrap_err(),
            400,
            "invalid_tenant_id",
            "invalid tenant id: contains a space",
        ),
        (
            Error::InvalidCursor { reason: "edited" },
            400,
            "invalid_cursor",
            "the cursor is invalid, expired, or not for this query",
        ),
        (
            Error::InvalidKeyValue {
                field: "secret_field",
                reason: "NaN".into(),
            },
            400,
            "invalid_key_value",
            "a key value is invalid",
        ),
        (
            Error::InvalidRequest {
                model: "Note",
                reason: "field secret_field".into(),
            },
            400,
            "invalid_request",
            "the request is invalid",
        ),
        (
            Error::NotFound { model: "Note" },
            404,
            "not_found",
            "not found",
        ),
        (
            Error::AlreadyExists { model: "Note" },
            409,
            "already_exists",
            "already exists",
        ),
        (
            Error::VersionConflict {
                model: "Note",
                expected: 1,
                actual: Some(2),
            },
            409,
            "version_conflict",
            "the stored version is not the expected one",
        ),
        (
            Error::ConditionFailed {
                model: "Note",
                current: None,
            },
            409,
            "condition_failed",
            "a condition of the write failed",
        ),
        (
            Error::UniqueViolation {
                model: "Note",
                constraint: "by_secret_email",
            },
            409,
            "unique_violation",
            "a unique value is already taken",
        ),
        (
            Error::Contention {
                model: "Note",
                attempts: 5,
            },
            409,
            "contention",
            "the item kept changing concurrently; nothing was written",
        ),
        (
            Error::Shared(std::sync::Arc::new(Error::NotFound { model: "Note" })),
            404,
            "not_found",
            "not found",
        ),
        (
            Error::TenantRequired,
            500,
            "internal_error",
            "internal server error",
        ),
        (
            Error::CrossTenant {
                model: "Note",
                expected: "[acme]#note#".into(),
            },
            500,
            "internal_error",
            "internal server error",
        ),
        (
            Error::Config("secret config".into()),
            500,
            "internal_error",
            "internal server error",
        ),
    ];
    for (err, status, code, message) in cases {
        let shown = format!("{err:?}");
        let response: Response<String> = ErrorResponse::from(err).into_response();
        assert_json_error(&response, status, code, message);
        for secret in ["secret", "Note", "[acme]"] {
            assert!(!response.body().contains(secret), "{shown} leaked {secret}");
        }
    }
}

#[test]
fn error_response_builder() {
    let e = ErrorResponse::new(StatusCode::PRECONDITION_FAILED, "version_conflict", "stale")
        .header(
            HeaderName::from_static("etag"),
            HeaderValue::from_static("\"3\""),
        );
    assert_eq!(e.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!((e.code(), e.message()), ("version_conflict", "stale"));
    assert_eq!(e.to_string(), "412 version_conflict: stale");
    assert_eq!(
        e.to_json(),
        r#"{"error":"version_conflict","message":"stale"}"#
    );
    let response: Response<String> = e.into_response();
    assert_eq!(response.headers().get("etag").unwrap(), "\"3\"");
    // Quotes and control characters in a message are escaped.
    let e = ErrorResponse::new(StatusCode::BAD_REQUEST, "x", "a \"quoted\"\n line");
    let parsed: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(parsed["message"], "a \"quoted\"\n line");
    assert_eq!(ErrorResponse::internal().code(), "internal_error");
}

// ---------------------------------------------------------------------------------------------
// Tracing

mod recording {
    //! A minimal subscriber that records span fields and events, and tracks the current span
    //! per thread (so `Span::current()` works).

    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};
    use tracing_core::span::Current;

    /// Recorded fields, in order.
    pub type FieldList = Vec<(String, String)>;

    #[derive(Default)]
    pub struct Log {
        pub spans: Mutex<HashMap<u64, (&'static Metadata<'static>, FieldList)>>,
        pub events: Mutex<Vec<(Level, FieldList)>>,
        next: AtomicU64,
    }

    impl Log {
        /// The recorded fields of every span named `name`.
        pub fn spans_named(&self, name: &str) -> Vec<Vec<(String, String)>> {
            let spans = self.spans.lock().unwrap();
            let mut ids: Vec<&u64> = spans.keys().collect();
            ids.sort();
            ids.into_iter()
                .filter(|id| spans[*id].0.name() == name)
                .map(|id| spans[id].1.clone())
                .collect()
        }
    }

    #[derive(Clone)]
    pub struct Recorder(pub Arc<Log>);

    thread_local! {
        static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    struct Fields<'a>(&'a mut Vec<(String, String)>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push((field.name().to_owned(), value.to_owned()));
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((field.name().to_owned(), format!("{value:?}")));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
            let mut fields = Vec::new();
            attrs.record(&mut Fields(&mut fields));
            self.0
                .spans
                .lock()
                .unwrap()
                .insert(id, (attrs.metadata(), fields));
            Id::from_u64(id)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            if let Some((_, fields)) = self.0.spans.lock().unwrap().get_mut(&span.into_u64()) {
                values.record(&mut Fields(fields));
            }
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut fields = Vec::new();
            event.record(&mut Fields(&mut fields));
            self.0
                .events
                .lock()
                .unwrap()
                .push((*event.metadata().level(), fields));
        }

        fn enter(&self, span: &Id) {
            STACK.with(|s| s.borrow_mut().push(span.into_u64()));
        }

        fn exit(&self, _: &Id) {
            STACK.with(|s| s.borrow_mut().pop());
        }

        fn current_span(&self) -> Current {
            let Some(id) = STACK.with(|s| s.borrow().last().copied()) else {
                return Current::none();
            };
            match self.0.spans.lock().unwrap().get(&id) {
                Some((meta, _)) => Current::new(Id::from_u64(id), meta),
                None => Current::none(),
            }
        }
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "current_thread")]
async fn every_request_records_its_tenant_on_its_span() {
    use tracing::instrument::WithSubscriber;
    use tracing::Instrument;

    let log = Arc::new(recording::Log::default());
    let dispatch = tracing::Dispatch::new(recording::Recorder(log.clone()));
    async {
        for tenant in ["acme", "globex"] {
            // The span an outer TraceLayer would open, declaring the field.
            let outer = tracing::info_span!("http.request", tenant = tracing::field::Empty);
            let (response, _) = send(request(
                "/notes",
                &[("X-Tenant-ID", tenant)],
                Some(&["acme", "globex"]),
            ))
            .instrument(outer)
            .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        let (response, _) = send(request("/notes", &[], Some(&["acme"]))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    .with_subscriber(dispatch)
    .await;

    let spans = log.spans_named("dynabao.tenant");
    assert_eq!(spans.len(), 3);
    assert_eq!(field(&spans[0], "tenant"), Some("acme"));
    assert_eq!(field(&spans[0], "tenant.resolver"), Some("header"));
    assert_eq!(field(&spans[1], "tenant"), Some("globex"));
    assert_eq!(
        field(&spans[2], "tenant"),
        None,
        "refused: no tenant recorded"
    );
    let outer = log.spans_named("http.request");
    assert_eq!(field(&outer[0], "tenant"), Some("acme"));
    assert_eq!(field(&outer[1], "tenant"), Some("globex"));
    let refusals = log
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, f)| field(f, "code") == Some("tenant_required"))
        .count();
    assert_eq!(refusals, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_handlers_tenant_required_is_a_logged_500() {
    use tracing::instrument::WithSubscriber;

    // The bare spawn below asks the process-wide fallback and resolvers: hold the lock that
    // keeps both empty.
    let _guard = crate::tenant::global_test_lock();
    let log = Arc::new(recording::Log::default());
    let dispatch = tracing::Dispatch::new(recording::Recorder(log.clone()));
    let handler = service_fn(|_req: Request<String>| async {
        // The bug: a bare spawn carries no tenant, so dynabao fails closed inside it.
        let inner = tokio::spawn(async { TenantContext::resolve().await.map(|_| ()) })
            .await
            .unwrap();
        let response = match inner {
            Ok(()) => Response::new("ok".to_owned()),
            Err(e) => ErrorResponse::from(e).into_response(),
        };
        Ok::<_, Infallible>(response)
    });
    let response = async {
        test_layer()
            .layer(handler)
            .oneshot(request(
                "/notes",
                &[("X-Tenant-ID", "acme")],
                Some(&["acme"]),
            ))
            .await
            .unwrap()
    }
    .with_subscriber(dispatch)
    .await;
    assert_json_error(&response, 500, "internal_error", "internal server error");
    let events = log.events.lock().unwrap();
    let logged: Vec<_> = events
        .iter()
        .filter(|(level, f)| {
            *level == tracing::Level::ERROR && field(f, "code") == Some("tenant_required")
        })
        .collect();
    assert_eq!(logged.len(), 1, "{events:?}");
    assert!(field(&logged[0].1, "message")
        .unwrap()
        .contains("ran without a tenant"));
}
