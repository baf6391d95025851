//! A multi-tenant REST service with axum: the `notes` API (see `examples/notes/mod.rs`), with
//! API keys as principals and the tenant named in a header, checked against the key; and an
//! admin API over dynabao's tenant registry (provisioning, configuration, tenant-scoped API
//! keys, export, offboarding).
//!
//! ```sh
//! cargo run --example axum_service
//! curl -s localhost:3000/notes -H 'Authorization: Bearer demo-key' -H 'X-Tenant-ID: acme' \
//!      -H 'Content-Type: application/json' -d '{"title":"hi","body":"first","tag":"inbox"}'
//! curl -s 'localhost:3000/notes?tag=inbox&limit=10' -H 'Authorization: Bearer demo-key' \
//!      -H 'X-Tenant-ID: acme'
//! curl -s localhost:3000/admin/tenants -H 'Authorization: Bearer demo-admin-key' \
//!      -H 'Content-Type: application/json' -d '{"id":"acme","name":"Acme Inc.","config":{"plan":"pro"}}'
//! ```
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BIND_ADDR` | where to listen | `127.0.0.1:3000` |
//! | `DYNAMODB_ENDPOINT` | the DynamoDB to use | the testkit's embedded engine (dynoxide, in memory), started for the process |
//! | `DYNABAO_TABLE` | the table, created if missing | `notes` |
//! | `API_KEYS` | `key1=tenantA\|tenantB,key2=tenantC`: each key and the tenants it may use | `demo-key=acme\|globex,initech-key=initech` (demo only) |
//! | `ADMIN_KEY` | the bearer key of the admin API under `/admin` (not empty) | `demo-admin-key` (demo only) |
//! | `REGISTRY` | `on`: the notes API admits only tenants of the registry, and accepts the tenant-scoped API keys the admin API issues; `off`: neither | `off` |
//!
//! # The notes API
//!
//! A request sends its key as `Authorization: Bearer <key>` and names its tenant in
//! `X-Tenant-ID`. No key or an unknown key: `401 unauthorized`. No tenant: `400
//! tenant_required`. An invalid tenant id: `400 invalid_tenant_id`. A tenant the key may not
//! use: `403 tenant_forbidden`. `GET /health` needs neither key nor tenant. The routes and
//! their errors are in `examples/notes/mod.rs`.
//!
//! With `REGISTRY=on`, also:
//!
//! | request | answer |
//! |---|---|
//! | a tenant the registry does not know | `404 tenant_not_found` |
//! | a suspended tenant | `403 tenant_suspended` |
//! | a tenant being provisioned or offboarded | `403 tenant_unavailable` |
//! | `Authorization: Bearer <key>` with a key issued by `POST /admin/tenants/{id}/api-keys`, no `X-Tenant-ID` | runs as the key's tenant |
//! | the same, with `X-Tenant-ID` naming the key's tenant | runs as that tenant |
//! | the same, with `X-Tenant-ID` naming another tenant | `403 tenant_mismatch` |
//! | a revoked or unknown registry key | `401 unauthorized` |
//!
//! `API_KEYS` keys work as without the registry (their tenants must then be registered and
//! active too).
//!
//! # The admin API
//!
//! Every route under `/admin` needs `Authorization: Bearer <ADMIN_KEY>`: no key, another key
//! (an `API_KEYS` or registry key included) or another scheme is `401 unauthorized`. Its bodies
//! are JSON; a tenant record is `{"id", "name", "status", "subdomain", "domains", "config",
//! "created_at", "updated_at", "version"}` with `status` one of `pending`, `active`,
//! `suspended`, `offboarding`, and comes with its version as the `ETag`.
//!
//! | route | success | errors |
//! |---|---|---|
//! | `POST /admin/tenants` `{"id", "name", "subdomain"?, "config"?}` | 201, the record (`active`; `config` `{}` when not given) | 400 `invalid_tenant_id`, 400 `invalid_request` (bad JSON, name or subdomain; `config` not an object), 409 `conflict` (the id or the subdomain is taken) |
//! | `GET /admin/tenants?limit=N&cursor=C` | 200 `{"items": [records], "cursor": "..." \| null}`, in id order, `limit` 1 to 100 (default 20) | 400 `invalid_request`, 400 `invalid_cursor` |
//! | `GET /admin/tenants/{id}` | 200, the record | 404 `not_found` |
//! | `PATCH /admin/tenants/{id}` any of `{"name", "status": "active" \| "suspended", "config"}`, optional `If-Match: <version>` | 200, the record; `config` is merged as a JSON merge patch (RFC 7386: `null` removes a member) | 400 `invalid_request` (bad JSON, unknown field, nothing to change, bad name or status, `config` not an object, the tenant is not `active` or `suspended` for a status change), 404 `not_found`, 412 `version_conflict` |
//! | `DELETE /admin/tenants/{id}` | 204 once every item of the tenant, its record, subdomain and API keys are deleted | 404 `not_found` |
//! | `POST /admin/tenants/{id}/api-keys` `{"name"}` | 201 `{"key", "name", "prefix", "created_at"}`: the only time `key` is shown | 400 `invalid_request`, 404 `not_found` |
//! | `GET /admin/tenants/{id}/api-keys` | 200 `[{"name", "prefix", "created_at"}]`, oldest first (never the key) | 404 `not_found` |
//! | `DELETE /admin/tenants/{id}/api-keys/{prefix}` | 204; the key stops working at once | 404 `not_found` |
//! | `GET /admin/tenants/{id}/export` | 200 `application/x-ndjson`: one line per stored item of the tenant, `{"model_prefix", "model", "kind": "item" \| "constraint", "constraint"?, "pk", "sk", "attributes"}` | 404 `not_found` |
//!
//! A tenant id in a path that is not a valid tenant id names no tenant: `404 not_found`.
//! Unknown routes are `404 not_found`, other methods `405 method_not_allowed`. The export is
//! streamed: its first page is read before the answer starts (a failure there is a `5xx`), and
//! a failure after that ends the body early (logged). The admin API is not scoped to a tenant:
//! the registry addresses each tenant's items itself.
//!
//! Error bodies are `{"error": "<stable_code>", "message": "..."}`; every `401` also carries
//! `WWW-Authenticate: Bearer`.
//!
//! # How the pieces fit
//!
//! The authentication middleware (outermost) reads the bearer key. Under `/admin` it admits the
//! admin key only. Elsewhere an `API_KEYS` key becomes an [`ApiKeyPrincipal`] with its tenants;
//! with `REGISTRY=on`, a key the registry issued ([`TenantRegistry::tenant_of_api_key`], cached)
//! becomes an [`ApiKeyPrincipal`] of exactly its tenant plus a [`RegistryKeyTenant`] in the
//! request extensions; anything else is `401`. dynabao's `TenantLayer` (which skips `/health`
//! and `/admin`) then asks its resolvers: with `REGISTRY=on` first a verified resolver that
//! reads [`RegistryKeyTenant`] (so such a key needs no `X-Tenant-ID`), then `X-Tenant-ID` (a
//! tenant the client claims), which the authorizer checks against the principal. Two sources
//! that disagree are refused by the layer (`403 tenant_mismatch`). With `REGISTRY=on` the
//! registry's gate admits the tenant (`tenant_not_found`, `tenant_suspended`,
//! `tenant_unavailable`), and the handler runs scoped to it. One registry (one cache) serves
//! the middleware, the gate and the admin API, so a suspension or a revoked key made through
//! the admin API applies to the next request. The process stops on Ctrl-C or SIGTERM.

#[path = "notes/mod.rs"]
mod notes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use dynabao::http::{
    authorize_principal, request_resolver_fn, ErrorResponse, HeaderResolver, TenantLayer, Trust,
};
use dynabao::registry::{
    ExportedItem, ExportedKind, NewTenant, TenantRecord, TenantRegistry, TenantStatus,
};
use dynabao::tenant::TenantId;
use dynabao::{Db, Tenancy};
use futures::{stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

/// `API_KEYS` when it is not set. For trying the example only.
pub const DEMO_API_KEYS: &str = "demo-key=acme|globex,initech-key=initech";

/// `ADMIN_KEY` when it is not set. For trying the example only.
pub const DEMO_ADMIN_KEY: &str = "demo-admin-key";

/// Paths that need no key and no tenant.
const PUBLIC_PATHS: [&str; 1] = ["/health"];

/// Where the admin API lives.
const ADMIN_PREFIX: &str = "/admin";

/// The tenant configuration of this service: any JSON object the admin sends.
pub type Registry = TenantRegistry<Value>;

/// Who is calling: what the authentication middleware puts in the request extensions for the
/// tenant layer's authorizer. The key itself is not kept.
#[derive(Debug, Clone)]
pub struct ApiKeyPrincipal {
    /// The tenants this key may use.
    pub tenants: Arc<HashSet<TenantId>>,
}

/// The tenant of a registry-issued API key, put in the request extensions by the
/// authentication middleware (with `REGISTRY=on`) and read by the layer's verified
/// `registry_api_key` resolver: the key names its tenant.
#[derive(Debug, Clone)]
pub struct RegistryKeyTenant(pub TenantId);

/// API keys and the tenants each may use.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: HashMap<String, Arc<HashSet<TenantId>>>,
}

impl ApiKeys {
    /// Parses `key1=tenantA|tenantB,key2=tenantC`. Tenant ids are validated; an entry without
    /// `=`, an empty key, a key listed twice or a key with no tenant is a configuration error.
    pub fn parse(spec: &str) -> Result<Self, dynabao::Error> {
        let mut keys = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, tenants)) = entry.split_once('=') else {
                return Err(config_error("an API_KEYS entry has no '='"));
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(config_error("an API_KEYS entry has an empty key"));
            }
            let tenants = tenants
                .split('|')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(TenantId::new)
                .collect::<Result<HashSet<_>, _>>()?;
            if tenants.is_empty() {
                return Err(config_error("an API_KEYS entry lists no tenant"));
            }
            if keys.insert(key.to_owned(), Arc::new(tenants)).is_some() {
                return Err(config_error("an API key is listed twice in API_KEYS"));
            }
        }
        Ok(ApiKeys { keys })
    }

    /// `API_KEYS`, or [`DEMO_API_KEYS`] when it is unset.
    pub fn from_env() -> Result<Self, dynabao::Error> {
        match std::env::var("API_KEYS") {
            Ok(spec) => Self::parse(&spec),
            Err(_) => Self::parse(DEMO_API_KEYS),
        }
    }

    /// The principal of `key`, if it is a known key.
    pub fn principal(&self, key: &str) -> Option<ApiKeyPrincipal> {
        self.keys.get(key).map(|tenants| ApiKeyPrincipal {
            tenants: tenants.clone(),
        })
    }
}

/// The settings of [`app`] besides the `Db` and the API keys; [`AppOptions::from_env`] reads
/// them from `ADMIN_KEY` and `REGISTRY`. The default is the demo admin key, registry off.
#[derive(Clone)]
pub struct AppOptions {
    /// The bearer key of the admin API.
    pub admin_key: String,
    /// Whether the notes API checks tenants against the registry and accepts its API keys.
    pub registry: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            admin_key: DEMO_ADMIN_KEY.to_owned(),
            registry: false,
        }
    }
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the admin key.
        f.debug_struct("AppOptions")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl AppOptions {
    /// `ADMIN_KEY` (or [`DEMO_ADMIN_KEY`] when unset) and `REGISTRY` (`on`/`off`, also
    /// `true`/`false`, `1`/`0`, `yes`/`no`; unset is `off`; anything else is a configuration
    /// error).
    pub fn from_env() -> Result<Self, dynabao::Error> {
        let admin_key = std::env::var("ADMIN_KEY").unwrap_or_else(|_| DEMO_ADMIN_KEY.to_owned());
        let registry = match std::env::var("REGISTRY") {
            Err(_) => false,
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" | "" => false,
                _ => return Err(config_error("REGISTRY must be on or off")),
            },
        };
        Ok(AppOptions {
            admin_key,
            registry,
        })
    }
}

/// A configuration error that never quotes the value (it holds secrets).
fn config_error(message: &str) -> dynabao::Error {
    dynabao::Error::Config(message.to_owned())
}

/// `401 unauthorized`, asking for a bearer token.
fn unauthorized(message: &'static str) -> Response {
    ErrorResponse::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        .header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
        .into_response()
}

/// What the authentication middleware needs.
struct Auth {
    keys: ApiKeys,
    admin_key: String,
    /// The registry whose API keys the notes API accepts (`REGISTRY=on`).
    registry: Option<Registry>,
}

/// Whether `path` is the admin API's.
fn is_admin(path: &str) -> bool {
    path.strip_prefix(ADMIN_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Compares two keys in time that depends on their lengths only, not on where they differ.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Authentication: `Authorization: Bearer <key>`. Under `/admin`, the admin key or `401`.
/// Elsewhere an `API_KEYS` key becomes an [`ApiKeyPrincipal`] in the request extensions; with
/// the registry on, a key it issued becomes a principal of its one tenant and a
/// [`RegistryKeyTenant`]. Public paths pass without a key.
async fn authenticate(State(auth): State<Arc<Auth>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if PUBLIC_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let admin = is_admin(path);
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return unauthorized("send an API key as Authorization: Bearer <key>");
    };
    let bearer = value.to_str().ok().and_then(|v| {
        let (scheme, key) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
    });
    let Some(key) = bearer.filter(|k| !k.is_empty()) else {
        return unauthorized("send an API key as Authorization: Bearer <key>");
    };
    if admin {
        if same_key(key, &auth.admin_key) {
            return next.run(request).await;
        }
        return unauthorized("not the admin key");
    }
    if let Some(principal) = auth.keys.principal(key) {
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }
    let Some(registry) = &auth.registry else {
        return unauthorized("unknown API key");
    };
    match registry.tenant_of_api_key(key).await {
        Ok(Some(tenant)) => {
            let principal = ApiKeyPrincipal {
                tenants: Arc::new(HashSet::from([tenant.clone()])),
            };
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(RegistryKeyTenant(tenant));
            next.run(request).await
        }
        Ok(None) => unauthorized("unknown API key"),
        Err(e) => ErrorResponse::from(e).into_response(),
    }
}

/// The whole service: the notes router and the admin API (under `/admin`), the tenant layer
/// (`X-Tenant-ID`, authorized against the key's tenants; with `options.registry` also the
/// registry key's tenant, verified, and the registry's gate; `/health` and `/admin`
/// excluded) and, outermost, authentication.
pub fn app(db: Db, keys: ApiKeys, options: AppOptions) -> Result<Router, dynabao::Error> {
    if options.admin_key.trim().is_empty() {
        return Err(config_error("ADMIN_KEY is empty"));
    }
    let registry = Registry::new(&db)?;
    let mut tenants = TenantLayer::builder();
    if options.registry {
        tenants = tenants
            .resolver(request_resolver_fn(
                "registry_api_key",
                Trust::Verified,
                |request| {
                    Ok(request
                        .extensions
                        .get::<RegistryKeyTenant>()
                        .map(|k| k.0.clone()))
                },
            ))
            .gate(registry.gate());
    }
    let tenants = tenants
        .resolver(HeaderResolver::default())
        .authorizer(authorize_principal(
            |key: &ApiKeyPrincipal, tenant: &TenantId| {
                let allowed = key.tenants.contains(tenant);
                async move { Ok(allowed) }
            },
        ))
        .exclude("/health")
        .exclude_prefix(ADMIN_PREFIX)
        .build()?;
    let auth = Arc::new(Auth {
        keys,
        admin_key: options.admin_key.trim().to_owned(),
        registry: options.registry.then(|| registry.clone()),
    });
    Ok(notes::router(db)
        .nest(ADMIN_PREFIX, admin_router(registry))
        .layer(tenants)
        .layer(middleware::from_fn_with_state(auth, authenticate)))
}

// ---------------------------------------------------------------------------------------------
// The admin API.

/// The admin routes (mounted under `/admin`; authentication is the middleware's).
fn admin_router(registry: Registry) -> Router {
    Router::new()
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route(
            "/tenants/{id}",
            get(read_tenant)
                .patch(update_tenant)
                .delete(offboard_tenant),
        )
        .route(
            "/tenants/{id}/api-keys",
            get(list_api_keys).post(issue_api_key),
        )
        .route("/tenants/{id}/api-keys/{prefix}", delete(revoke_api_key))
        .route("/tenants/{id}/export", get(export_tenant))
        .method_not_allowed_fallback(no_method)
        .with_state(registry)
}

type AdminResult<T> = Result<T, ErrorResponse>;

/// Page size of `GET /admin/tenants` when `limit` is not given.
const DEFAULT_LIMIT: u32 = 20;
/// Its largest page size.
const MAX_LIMIT: u32 = 100;

fn invalid(message: impl Into<String>) -> ErrorResponse {
    ErrorResponse::new(StatusCode::BAD_REQUEST, "invalid_request", message.into())
}

fn no_tenant() -> ErrorResponse {
    ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", "no such tenant")
}

fn id_taken() -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::CONFLICT,
        "conflict",
        "a tenant with this id already exists",
    )
}

async fn no_method() -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// A registry error as the admin API answers it.
fn admin_error(err: dynabao::Error) -> ErrorResponse {
    use dynabao::Error as E;
    match err {
        E::AlreadyExists { .. } => id_taken(),
        E::UniqueViolation { .. } => ErrorResponse::new(
            StatusCode::CONFLICT,
            "conflict",
            "the subdomain is taken by another tenant",
        ),
        E::NotFound { .. } => no_tenant(),
        E::VersionConflict { .. } => ErrorResponse::new(
            StatusCode::PRECONDITION_FAILED,
            "version_conflict",
            "the tenant was changed since that version",
        ),
        // The registry's reasons name what is wrong with the admin's input, nothing internal.
        E::InvalidInput { reason, .. } => invalid(reason),
        // Anything else (an `InvalidRequest` included: a request this service built wrong) is
        // ErrorResponse's: logged, `500`.
        other => ErrorResponse::from(other),
    }
}

/// A tenant id from a path: one that is not valid names no tenant.
fn path_tenant(raw: &str) -> AdminResult<TenantId> {
    TenantId::new(raw).map_err(|_| no_tenant())
}

/// The tenant a path names, when the registry has it (read fresh, not from the cache).
async fn known_tenant(registry: &Registry, raw: &str) -> AdminResult<TenantId> {
    let id = path_tenant(raw)?;
    match registry.fetch(&id).await.map_err(admin_error)? {
        Some(_) => Ok(id),
        None => Err(no_tenant()),
    }
}

/// Parses a JSON body into `T`, with a 400 that says what is wrong.
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> AdminResult<T> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("invalid JSON body: {e}")))
}

/// A record, with its version as the `ETag`.
fn record_response(status: StatusCode, record: &TenantRecord<Value>) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", record.version)).ok();
    let mut response = (status, Json(record)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// The tenant version an `If-Match` header names.
fn if_match(headers: &HeaderMap) -> AdminResult<Option<u64>> {
    notes::if_match_version(headers).map_err(|()| invalid("If-Match must be a tenant version"))
}

#[derive(Deserialize)]
struct NewTenantBody {
    id: String,
    name: String,
    subdomain: Option<String>,
    config: Option<Value>,
}

async fn create_tenant(State(registry): State<Registry>, body: Bytes) -> AdminResult<Response> {
    let new: NewTenantBody = json_body(&body)?;
    let id = TenantId::new(&new.id).map_err(ErrorResponse::from)?;
    let config = match new.config {
        None => Value::Object(Default::default()),
        Some(c @ Value::Object(_)) => c,
        Some(_) => return Err(invalid("config must be a JSON object")),
    };
    // Provisioning the same tenant again resumes it (and succeeds); this API answers an id
    // that is taken with a conflict instead, whatever the body.
    if registry.fetch(&id).await.map_err(admin_error)?.is_some() {
        return Err(id_taken());
    }
    let mut tenant = NewTenant::new(id.as_str(), new.name).config(config);
    if let Some(subdomain) = new.subdomain {
        tenant = tenant.subdomain(subdomain);
    }
    let record = registry.provision(tenant).await.map_err(admin_error)?;
    Ok(record_response(StatusCode::CREATED, &record))
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list_tenants(
    State(registry): State<Registry>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> AdminResult<Response> {
    let Query(params) = params.map_err(|e| invalid(e.body_text()))?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid(format!("limit must be 1 to {MAX_LIMIT}")))?,
    };
    let page = registry
        .list(limit, params.cursor.as_deref())
        .await
        .map_err(admin_error)?;
    Ok(Json(page).into_response())
}

async fn read_tenant(
    State(registry): State<Registry>,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let id = path_tenant(&id)?;
    match registry.fetch(&id).await.map_err(admin_error)? {
        Some(record) => Ok(record_response(StatusCode::OK, &record)),
        None => Err(no_tenant()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantChanges {
    name: Option<String>,
    status: Option<TenantStatus>,
    config: Option<Value>,
}

async fn update_tenant(
    State(registry): State<Registry>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AdminResult<Response> {
    let id = path_tenant(&id)?;
    let version = if_match(&headers)?;
    let changes: TenantChanges = json_body(&body)?;
    if changes.name.is_none() && changes.status.is_none() && changes.config.is_none() {
        return Err(invalid("give at least one of name, status and config"));
    }
    let mut update = registry.update(&id);
    if let Some(name) = changes.name {
        update = update.name(name);
    }
    if let Some(status) = changes.status {
        update = update.status(status);
    }
    match changes.config {
        None => {}
        Some(patch @ Value::Object(_)) => update = update.merge_config(patch),
        Some(_) => return Err(invalid("config must be a JSON object (a merge patch)")),
    }
    if let Some(version) = version {
        update = update.if_version(version);
    }
    let record = update.send().await.map_err(admin_error)?;
    Ok(record_response(StatusCode::OK, &record))
}

async fn offboard_tenant(
    State(registry): State<Registry>,
    Path(id): Path<String>,
) -> AdminResult<StatusCode> {
    let id = path_tenant(&id)?;
    registry.offboard(&id).await.map_err(admin_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewApiKey {
    name: String,
}

async fn issue_api_key(
    State(registry): State<Registry>,
    Path(id): Path<String>,
    body: Bytes,
) -> AdminResult<Response> {
    let id = path_tenant(&id)?;
    let new: NewApiKey = json_body(&body)?;
    let key = registry
        .issue_api_key(&id, &new.name)
        .await
        .map_err(admin_error)?;
    let body = serde_json::json!({
        "key": key.secret(),
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn list_api_keys(
    State(registry): State<Registry>,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let id = known_tenant(&registry, &id).await?;
    let keys = registry.list_api_keys(&id).await.map_err(admin_error)?;
    Ok(Json(keys).into_response())
}

async fn revoke_api_key(
    State(registry): State<Registry>,
    Path((id, prefix)): Path<(String, String)>,
) -> AdminResult<StatusCode> {
    let id = path_tenant(&id)?;
    match registry.revoke_api_key(&id, &prefix).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(dynabao::Error::NotFound { .. }) => Err(ErrorResponse::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such API key",
        )),
        Err(e) => Err(admin_error(e)),
    }
}

/// One export line: the item, its attributes as plain JSON.
fn export_line(item: ExportedItem) -> Result<Bytes, dynabao::Error> {
    let attributes: Value =
        serde_dynamo::from_item(item.attributes).map_err(|e| dynabao::Error::MalformedItem {
            model: "export",
            reason: format!("an item's attributes do not convert to JSON: {e}"),
        })?;
    let mut line = serde_json::json!({
        "model_prefix": item.model_prefix,
        "model": item.model,
        "pk": item.pk,
        "sk": item.sk,
        "attributes": attributes,
    });
    match item.kind {
        ExportedKind::Constraint { name } => {
            line["kind"] = "constraint".into();
            line["constraint"] = name.into();
        }
        _ => line["kind"] = "item".into(),
    }
    let mut bytes = serde_json::to_vec(&line).map_err(|e| dynabao::Error::MalformedItem {
        model: "export",
        reason: format!("an export line does not serialize: {e}"),
    })?;
    bytes.push(b'\n');
    Ok(Bytes::from(bytes))
}

async fn export_tenant(
    State(registry): State<Registry>,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let id = known_tenant(&registry, &id).await?;
    let mut export = registry.export(&id);
    // The first page before the answer starts, so that a failure to read at all is a status.
    let first = export.next_page().await.map_err(admin_error)?;
    // After a last (or empty) first page the export is done, and its stream is empty.
    let lines = stream::iter(first.unwrap_or_default().into_iter().map(Ok))
        .chain(export.stream())
        .map(|item| item.and_then(export_line))
        .inspect(|line| {
            if let Err(e) = line {
                tracing::error!(error = %e, "export failed mid-way; the body ends early");
            }
        });
    let mut response = Body::from_stream(lines).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// The process.

/// Connects to `DYNAMODB_ENDPOINT` (or, when it is unset, the testkit's embedded engine) and
/// creates the table `DYNABAO_TABLE` (default `notes`) if it is missing.
///
/// A DynamoDB named in `DYNAMODB_ENDPOINT` (DynamoDB Local, LocalStack, a dynoxide server, or
/// AWS's own endpoint) is reached the way a production service reaches it:
/// `Db::connect(Config::from_env())`, with the AWS SDK's credential chain and region (dummy
/// credentials on a loopback endpoint when there are none). Only with nothing named does the
/// example start the embedded engine, so that it runs with nothing installed.
pub async fn connect() -> Result<Db, dynabao::Error> {
    let table = std::env::var("DYNABAO_TABLE").unwrap_or_else(|_| "notes".to_owned());
    let named = std::env::var("DYNAMODB_ENDPOINT").is_ok_and(|e| !e.trim().is_empty());
    let db = if named {
        let config = dynabao::Config::from_lookup(|name| match name {
            "DYNABAO_TABLE" => Some(table.clone()),
            _ => std::env::var(name).ok(),
        })?;
        Db::connect(config).await?
    } else {
        Db::new(dynabao::testkit::sdk_client().await?, table, Tenancy::On)
    };
    db.create_table().await?;
    Ok(db)
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let keys = ApiKeys::from_env()?;
    let options = AppOptions::from_env()?;
    let db = connect().await?;
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!(
        "notes service on http://{}, table {}",
        listener.local_addr()?,
        db.table()
    );
    axum::serve(listener, app(db, keys, options)?)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
