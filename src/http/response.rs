//! Error responses: what the layer answers when it refuses a request ([`Rejection`]), and how a
//! handler turns a dynabao [`Error`] into a response ([`ErrorResponse`]).
//!
//! Every body is JSON, `{"error": "<stable_code>", "message": "..."}`, and carries no internal
//! detail: no tenant id the client did not send, no key, no model or field name, no DynamoDB
//! message. What a client must not see is logged instead (at `error` level, inside the request's
//! span, so the log line carries the tenant).

use std::borrow::Cow;
use std::fmt;

use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::error::BoxError;
use crate::Error;

/// Why [`TenantLayer`](super::TenantLayer) refused a request. Each variant has one status and
/// one stable code ([`Rejection::code`]).
///
/// Resolvers, lookups and authorizers return it; `From<dynabao::Error>` maps dynabao's errors
/// (an invalid tenant id is [`InvalidTenantId`](Rejection::InvalidTenantId), anything else
/// [`Internal`](Rejection::Internal)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// No resolver named a tenant. `400 tenant_required`.
    TenantRequired,
    /// A tenant was named but is not a valid tenant id, or was named more than once in one
    /// place. `400 invalid_tenant_id`.
    InvalidTenantId {
        /// Why, without the value itself (safe to show to the client).
        reason: &'static str,
    },
    /// The request lacks valid credentials where the tenant needs them: no principal for the
    /// authorizer to check, or an API key that maps to nothing. `401 unauthorized`.
    Unauthorized,
    /// The authenticated principal may not use the tenant it named, or a verified identity maps
    /// to no tenant. `403 tenant_forbidden`.
    Forbidden,
    /// Two sources of the request name different tenants (a verified claim for one, a
    /// subdomain of another), and the layer refuses such requests (its default, see
    /// [`SourceConflict`](super::SourceConflict)). Neither tenant is named in the response.
    /// `403 tenant_mismatch`.
    TenantMismatch,
    /// The tenant is not in the registry a [`TenantGate`](super::TenantGate) checks.
    /// `404 tenant_not_found`.
    TenantNotFound,
    /// The tenant is suspended. `403 tenant_suspended`.
    TenantSuspended,
    /// The tenant exists but is not in service: still being provisioned, or being offboarded.
    /// `403 tenant_unavailable`.
    TenantUnavailable,
    /// A resolver, lookup or authorizer could not do its work (a registry that is down). The
    /// source is logged, never sent. `500 internal_error`.
    Internal(BoxError),
}

impl Rejection {
    /// The HTTP status this rejection is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::TenantRequired | Rejection::InvalidTenantId { .. } => {
                StatusCode::BAD_REQUEST
            }
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
            Rejection::Forbidden
            | Rejection::TenantMismatch
            | Rejection::TenantSuspended
            | Rejection::TenantUnavailable => StatusCode::FORBIDDEN,
            Rejection::TenantNotFound => StatusCode::NOT_FOUND,
            Rejection::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in the response body. Codes never change once published.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::TenantRequired => "tenant_required",
            Rejection::InvalidTenantId { .. } => "invalid_tenant_id",
            Rejection::Unauthorized => "unauthorized",
            Rejection::Forbidden => "tenant_forbidden",
            Rejection::TenantMismatch => "tenant_mismatch",
            Rejection::TenantNotFound => "tenant_not_found",
            Rejection::TenantSuspended => "tenant_suspended",
            Rejection::TenantUnavailable => "tenant_unavailable",
            Rejection::Internal(_) => INTERNAL_CODE,
        }
    }

    /// Wraps any error of a resolver, lookup or authorizer as [`Rejection::Internal`].
    pub fn internal(e: impl Into<BoxError>) -> Self {
        Rejection::Internal(e.into())
    }

    /// The response for this rejection. [`Internal`](Rejection::Internal) is logged here.
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        ErrorResponse::from(self).into_response()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TenantRequired => f.write_str("the request names no tenant"),
            Rejection::InvalidTenantId { reason } => write!(f, "invalid tenant id: {reason}"),
            Rejection::Unauthorized => f.write_str("no valid credentials"),
            Rejection::Forbidden => f.write_str("the principal may not use this tenant"),
            Rejection::TenantMismatch => {
                f.write_str("the request's sources name different tenants")
            }
            Rejection::TenantNotFound => f.write_str("no such tenant"),
            Rejection::TenantSuspended => f.write_str("the tenant is suspended"),
            Rejection::TenantUnavailable => f.write_str("the tenant is not in service"),
            Rejection::Internal(e) => write!(f, "tenant resolution failed: {e}"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Internal(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<Error> for Rejection {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidTenantId { reason, .. } => Rejection::InvalidTenantId { reason },
            Error::TenantRequired => Rejection::TenantRequired,
            Error::TenantResolver { source } => Rejection::Internal(Box::new(source)),
            other => Rejection::Internal(Box::new(other)),
        }
    }
}

/// The code of every `500` body: what went wrong is logged, not sent.
const INTERNAL_CODE: &str = "internal_error";
/// The message of every `500` body.
const INTERNAL_MESSAGE: &str = "internal server error";

/// An error response: status, stable code and a message safe to show to a client, rendered as
/// `{"error": "<code>", "message": "<message>"}` with `Content-Type: application/json`.
///
/// Build one from a dynabao [`Error`] in a handler (`ErrorResponse::from(err)`), from a
/// [`Rejection`], or with [`ErrorResponse::new`] for your own errors, then call
/// [`into_response`](ErrorResponse::into_response) for any body type that converts from a
/// `String` (axum's and lambda_http's `Body`, `String`, `Full<Bytes>`, ...).
///
/// How dynabao errors map:
///
/// | error | status | code |
/// |---|---|---|
/// | `InvalidTenantId` | 400 | `invalid_tenant_id` |
/// | `InvalidCursor` | 400 | `invalid_cursor` |
/// | `InvalidKeyValue` | 400 | `invalid_key_value` |
/// | `InvalidInput` | 400 | `invalid_input` (the message says what to fix) |
/// | `InvalidRequest` | 500 | `internal_error` (logged: the service built the request wrong) |
/// | `NotFound` | 404 | `not_found` |
/// | `AlreadyExists` | 409 | `already_exists` |
/// | `VersionConflict` | 409 | `version_conflict` (412 after [`if_match`](ErrorResponse::if_match), for `If-Match` writes) |
/// | `ConditionFailed` | 409 | `condition_failed` |
/// | `UniqueViolation` | 409 | `unique_violation` |
/// | `TransactionCanceled` | 409 | `transaction_canceled` |
/// | `Contention` | 409 | `contention` |
/// | `ItemTooLarge` | 413 | `item_too_large` |
/// | `Dynamo` throttling, `BatchIncomplete` | 503 | `unavailable` (logged) |
/// | `TenantRequired`, `CrossTenant`, anything else | 500 | `internal_error` (logged) |
///
/// `TenantRequired` inside a request that the layer scoped is a bug in the service (typically a
/// bare `tokio::spawn` or `spawn_local`, which carry no tenant): it is a 500, logged at `error` level, and the
/// client learns nothing about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    /// Extra headers; a `Vec` rather than a `HeaderMap` keeps the type small enough to be the
    /// error of a `Result` (clippy's `result_large_err`).
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ErrorResponse {
    /// An error response with this status, code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ErrorResponse {
            status,
            code: code.into(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The generic `500 internal_error` response.
    pub fn internal() -> Self {
        ErrorResponse::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL_CODE,
            INTERNAL_MESSAGE,
        )
    }

    /// Answers a version conflict with `412 Precondition Failed` instead of `409 Conflict`:
    /// for a write the client conditioned with `If-Match: <version>`, where a stale version is
    /// the precondition that failed. Any other error is left as it is. The code stays
    /// `version_conflict`.
    ///
    /// ```
    /// use dynabao::http::ErrorResponse;
    /// use dynabao::Error;
    ///
    /// let stale = Error::VersionConflict { model: "Note", expected: 3, actual: Some(4) };
    /// assert_eq!(ErrorResponse::from(&stale).status(), 409);
    /// assert_eq!(ErrorResponse::from(stale).if_match().status(), 412);
    /// ```
    pub fn if_match(mut self) -> Self {
        // Codes are stable, so the code says which error this was.
        if self.code == "version_conflict" {
            self.status = StatusCode::PRECONDITION_FAILED;
        }
        self
    }

    /// Adds a header to the response (`WWW-Authenticate` on a 401, say).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }

    /// The response.
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        let mut response = Response::new(B::from(self.to_json()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<Rejection> for ErrorResponse {
    fn from(rejection: Rejection) -> Self {
        let message: Cow<'static, str> = match &rejection {
            Rejection::TenantRequired => "this request needs a tenant".into(),
            Rejection::InvalidTenantId { reason } => format!("invalid tenant id: {reason}").into(),
            Rejection::Unauthorized => "missing or invalid credentials".into(),
            Rejection::Forbidden => "not allowed to use this tenant".into(),
            Rejection::TenantMismatch => "the request names more than one tenant".into(),
            Rejection::TenantNotFound => "no such tenant".into(),
            Rejection::TenantSuspended => "the tenant is suspended".into(),
            Rejection::TenantUnavailable => "the tenant is not in service".into(),
            Rejection::Internal(e) => {
                tracing::error!(error = %e, "dynabao: tenant resolution failed");
                return ErrorResponse::internal();
            }
        };
        ErrorResponse::new(rejection.status(), rejection.code(), message)
    }
}

impl From<&Error> for ErrorResponse {
    fn from(err: &Error) -> Self {
        let (status, message) = match err {
            Error::InvalidTenantId { reason, .. } => (
                StatusCode::BAD_REQUEST,
                Cow::Owned(format!("invalid tenant id: {reason}")),
            ),
            Error::InvalidCursor { .. } => (
                StatusCode::BAD_REQUEST,
                "the cursor is invalid, expired, or not for this query".into(),
            ),
            Error::InvalidKeyValue { .. } => {
                (StatusCode::BAD_REQUEST, "a key value is invalid".into())
            }
            // A value the client sent: its reason says what to fix.
            Error::InvalidInput { reason, .. } => (StatusCode::BAD_REQUEST, reason.clone().into()),
            // A request the program built wrong is a bug in the service, not the client's.
            Error::InvalidRequest { .. } => {
                tracing::error!(error = %err, code = err.code(), "dynabao: the service built an invalid request");
                return ErrorResponse::internal();
            }
            // The client's body named an attribute the crate owns: bad input, nothing stored.
            Error::ReservedAttribute { .. } => (
                StatusCode::BAD_REQUEST,
                "the item names a reserved attribute".into(),
            ),
            Error::DuplicateAttribute { .. } => (
                StatusCode::BAD_REQUEST,
                "the item names an attribute twice".into(),
            ),
            Error::OutcomeUnknown { .. } => {
                tracing::error!(error = %err, code = err.code(), "dynabao: write outcome unknown");
                return ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome_unknown",
                    "the write may or may not have been applied; read before retrying",
                );
            }
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not found".into()),
            Error::AlreadyExists { .. } => (StatusCode::CONFLICT, "already exists".into()),
            Error::VersionConflict { .. } => (
                StatusCode::CONFLICT,
                "the stored version is not the expected one".into(),
            ),
            Error::ConditionFailed { .. } => (
                StatusCode::CONFLICT,
                "a condition of the write failed".into(),
            ),
            Error::Dynamo { source, .. } if is_throttling(source.as_ref()) => {
                tracing::error!(error = %err, code = err.code(), "dynabao: DynamoDB throttled the request");
                return ErrorResponse::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is busy; retry later",
                );
            }
            Error::TenantRequired => {
                tracing::error!(
                    code = err.code(),
                    "dynabao: a tenant-scoped operation ran without a tenant inside a request \
                     (a bug in the service: a bare tokio::spawn or spawn_local, or a path \
                     excluded from the tenant layer)"
                );
                return ErrorResponse::internal();
            }
            // Batch and transaction errors, by their stable codes.
            _ => match err.code() {
                "unique_violation" => (
                    StatusCode::CONFLICT,
                    "a unique value is already taken".into(),
                ),
                "transaction_canceled" => (
                    StatusCode::CONFLICT,
                    "the transaction was canceled; nothing was written".into(),
                ),
                "contention" => (
                    StatusCode::CONFLICT,
                    "the item kept changing concurrently; nothing was written".into(),
                ),
                "item_too_large" => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the item is too large".into(),
                ),
                "batch_incomplete" => {
                    tracing::error!(error = %err, code = err.code(), "dynabao: batch left items unprocessed");
                    return ErrorResponse::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the service is busy; retry later",
                    );
                }
                _ => {
                    tracing::error!(error = %err, code = err.code(), "dynabao: request failed");
                    return ErrorResponse::internal();
                }
            },
        };
        ErrorResponse::new(status, err.code(), message)
    }
}

impl From<Error> for ErrorResponse {
    fn from(err: Error) -> Self {
        ErrorResponse::from(&err)
    }
}

/// Whether DynamoDB refused the request for capacity reasons (worth a 503 and a retry).
fn is_throttling(err: &aws_sdk_dynamodb::Error) -> bool {
    matches!(
        err,
        aws_sdk_dynamodb::Error::ProvisionedThroughputExceededException(_)
            | aws_sdk_dynamodb::Error::RequestLimitExceeded(_)
            | aws_sdk_dynamodb::Error::ThrottlingException(_)
    )
}
