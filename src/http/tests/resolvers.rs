//! The resolvers that read the tenant from the request itself: header, query, path, host.

use std::collections::HashMap;

use http::header::HeaderName;

use super::*;
use crate::Error;

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
    use crate::http::resolvers::percent_decode;
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
