//! The layer as a service: scoping the handler, sharing the resolution, refusing requests.

use http::StatusCode;

use super::*;

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
