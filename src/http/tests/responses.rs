//! Rejections and error responses: codes, statuses, conversions, and no leaks.

use http::header::HeaderName;
use http::StatusCode;

use super::*;
use crate::Error;

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
        (Rejection::TenantMismatch, 403, "tenant_mismatch"),
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
            Error::InvalidInput {
                model: "TenantRecord",
                reason: "a subdomain is one DNS label".into(),
            },
            400,
            "invalid_input",
            "a subdomain is one DNS label",
        ),
        (
            Error::InvalidRequest {
                model: "Note",
                reason: "field secret_field".into(),
            },
            500,
            "internal_error",
            "internal server error",
        ),
        (
            Error::ReservedAttribute {
                model: "Note",
                attr: "_secret_pk".into(),
            },
            400,
            "reserved_attribute",
            "the item names a reserved attribute",
        ),
        (
            Error::DuplicateAttribute {
                model: "Note",
                attr: "secret_field".into(),
            },
            400,
            "duplicate_attribute",
            "the item names an attribute twice",
        ),
        (
            Error::OutcomeUnknown {
                operation: "PutItem",
                model: "Note",
                source: Box::new(Error::AlreadyExists { model: "Note" }),
            },
            503,
            "outcome_unknown",
            "the write may or may not have been applied; read before retrying",
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
