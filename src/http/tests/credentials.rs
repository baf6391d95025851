//! The resolvers that find the tenant through a credential: API keys and verified claims.

use std::collections::HashMap;

use http::header::HeaderName;

use super::*;

// ---------------------------------------------------------------------------------------------
// API key

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
