//! The `notes` REST API shared by `examples/axum_service.rs` (API keys, tenant in a header) and
//! `examples/lambda_handler.rs` (HTTP API Lambda, tenant from a verified JWT claim). This module
//! has the model, the handlers and the router; each example adds its own authentication and
//! `TenantLayer` around [`router`].
//!
//! Every handler runs inside the tenant scope the layer opened, so none of them mentions a
//! tenant: the keys dynabao builds carry it, and reads are checked against it.
//!
//! | route | success | errors |
//! |---|---|---|
//! | `POST /notes` `{title, body, tag}` | 201, the note | 400 `invalid_request` |
//! | `GET /notes/{id}` | 200, the note | 404 `not_found` |
//! | `GET /notes?tag=T&limit=N&cursor=C` | 200 `{"items": [...], "cursor": "..." \| null}`, newest first | 400 `invalid_request`, `invalid_cursor` |
//! | `PATCH /notes/{id}` any of `{title, body, tag}`, optional `If-Match: <version>` | 200, the note | 400, 404, 412 `version_conflict` |
//! | `DELETE /notes/{id}` | 204 | 404 `not_found` |
//! | `GET /health` | 200 `{"status": "ok"}` | |
//!
//! Error bodies are `{"error": "<stable_code>", "message": "..."}`.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dynabao::http::ErrorResponse;
use dynabao::ops::query::Page;
use dynabao::{Db, Model};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// A note. Stored under `[tenant]#note#<id>`; the `by_tag` index lists a tag's notes by
/// creation time (the id breaks ties, so the order is total).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "note")]
#[bao(index(by_tag(gsi = 1, pk = "tag", sk = ["created_at", "id"])))]
pub struct Note {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub title: String,
    pub body: String,
    pub tag: String,
    #[bao(created_at)]
    pub created_at: DateTime<Utc>,
    #[bao(updated_at)]
    pub updated_at: DateTime<Utc>,
    #[bao(version)]
    pub version: u64,
}

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest body, in characters.
const MAX_BODY: usize = 10_000;
/// Longest tag, in characters.
const MAX_TAG: usize = 64;
/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
const MAX_LIMIT: u32 = 100;

/// The router of the notes API, without authentication or tenant resolution: the examples wrap
/// it in their own layers.
pub fn router(db: Db) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/notes", get(list).post(create))
        .route("/notes/{id}", get(read).patch(update).delete(remove))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .with_state(db)
}

/// An error response of the API (a dynabao error, or a request the API refuses itself).
pub struct ApiError(pub ErrorResponse);

impl ApiError {
    /// `400 invalid_request` with `message`.
    fn invalid(message: impl Into<String>) -> Self {
        ApiError(ErrorResponse::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            message.into(),
        ))
    }

    fn not_found() -> Self {
        ApiError(ErrorResponse::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such note",
        ))
    }
}

impl From<dynabao::Error> for ApiError {
    fn from(err: dynabao::Error) -> Self {
        match err {
            dynabao::Error::NotFound { .. } => ApiError::not_found(),
            // Only `If-Match` makes an update carry a version, so a conflict is a failed
            // precondition.
            dynabao::Error::VersionConflict { .. } => ApiError(ErrorResponse::new(
                StatusCode::PRECONDITION_FAILED,
                "version_conflict",
                "the note was changed since that version",
            )),
            other => ApiError(ErrorResponse::from(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A note with its version as the `ETag`.
fn note_response(status: StatusCode, note: Note) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", note.version)).ok();
    let mut response = (status, Json(note)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// Parses a JSON body into `T`, with a 400 that says what is wrong.
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// Checks the length (in characters) of a text field.
fn check_len(field: &str, value: &str, min: usize, max: usize) -> ApiResult<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::invalid(format!(
            "{field} must be {min} to {max} characters long"
        )));
    }
    Ok(())
}

/// A note id from the path; anything that is not a ULID names no note.
fn note_id(raw: &str) -> ApiResult<Ulid> {
    Ulid::from_string(raw).map_err(|_| ApiError::not_found())
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn no_route() -> ApiError {
    ApiError(ErrorResponse::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    ))
}

async fn no_method() -> ApiError {
    ApiError(ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    ))
}

#[derive(Deserialize)]
struct NewNote {
    title: String,
    body: String,
    tag: String,
}

async fn create(State(db): State<Db>, body: Bytes) -> ApiResult<Response> {
    let new: NewNote = json_body(&body)?;
    check_len("title", &new.title, 1, MAX_TITLE)?;
    check_len("body", &new.body, 0, MAX_BODY)?;
    check_len("tag", &new.tag, 1, MAX_TAG)?;
    let note = Note::create(
        &db,
        Note {
            id: Ulid::nil(), // filled by create
            title: new.title,
            body: new.body,
            tag: new.tag,
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
            version: 0,
        },
    )
    .await?;
    Ok(note_response(StatusCode::CREATED, note))
}

async fn read(State(db): State<Db>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = note_id(&id)?;
    match Note::find(&db, &id).await? {
        Some(note) => Ok(note_response(StatusCode::OK, note)),
        None => Err(ApiError::not_found()),
    }
}

#[derive(Deserialize)]
struct ListParams {
    tag: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(db): State<Db>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<Page<Note>>> {
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    let tag = params
        .tag
        .ok_or_else(|| ApiError::invalid("the tag query parameter is required"))?;
    check_len("tag", &tag, 1, MAX_TAG)?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::invalid(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let page = Note::query_by_tag(&db, &tag)
        .descending()
        .limit(limit)
        .cursor_opt(params.cursor)
        .send()
        .await?;
    // A page serializes as {"items": [...], "cursor": ...}.
    Ok(Json(page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteChanges {
    title: Option<String>,
    body: Option<String>,
    tag: Option<String>,
}

/// The version an `If-Match` header names: `3`, `"3"` or `W/"3"`; `Err` for anything else.
pub fn if_match_version(headers: &HeaderMap) -> Result<Option<u64>, ()> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse::<u64>().map(Some).map_err(|_| ())
}

/// [`if_match_version`], refused as a note version.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    if_match_version(headers).map_err(|()| ApiError::invalid("If-Match must be a note version"))
}

async fn update(
    State(db): State<Db>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = note_id(&id)?;
    let version = if_match(&headers)?;
    let changes: NoteChanges = json_body(&body)?;
    if changes.title.is_none() && changes.body.is_none() && changes.tag.is_none() {
        return Err(ApiError::invalid(
            "give at least one of title, body and tag",
        ));
    }
    let mut update = Note::update(&db, &id);
    if let Some(title) = changes.title {
        check_len("title", &title, 1, MAX_TITLE)?;
        update = update.set(Note::TITLE, title);
    }
    if let Some(body) = changes.body {
        check_len("body", &body, 0, MAX_BODY)?;
        update = update.set(Note::BODY, body);
    }
    if let Some(tag) = changes.tag {
        check_len("tag", &tag, 1, MAX_TAG)?;
        update = update.set(Note::TAG, tag);
    }
    if let Some(version) = version {
        update = update.if_version(version);
    }
    Ok(note_response(StatusCode::OK, update.await?))
}

async fn remove(State(db): State<Db>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = note_id(&id)?;
    Note::delete(&db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
