//! A multi-tenant REST service with axum: the `notes` API (see `examples/notes/mod.rs`), with
//! API keys as principals and the tenant named in a header, checked against the key.
//!
//! ```sh
//! cargo run --example axum_service
//! curl -s localhost:3000/notes -H 'Authorization: Bearer demo-key' -H 'X-Tenant-ID: acme' \
//!      -H 'Content-Type: application/json' -d '{"title":"hi","body":"first","tag":"inbox"}'
//! curl -s 'localhost:3000/notes?tag=inbox&limit=10' -H 'Authorization: Bearer demo-key' \
//!      -H 'X-Tenant-ID: acme'
//! ```
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BIND_ADDR` | where to listen | `127.0.0.1:3000` |
//! | `DYNAMODB_ENDPOINT` | the DynamoDB to use | the testkit's embedded engine (dynoxide, in memory), started for the process |
//! | `DYNABAO_TABLE` | the table, created if missing | `notes` |
//! | `API_KEYS` | `key1=tenantA\|tenantB,key2=tenantC`: each key and the tenants it may use | `demo-key=acme\|globex,initech-key=initech` (demo only) |
//!
//! A request sends its key as `Authorization: Bearer <key>` and names its tenant in
//! `X-Tenant-ID`. No key or an unknown key: `401 unauthorized`. No tenant: `400
//! tenant_required`. An invalid tenant id: `400 invalid_tenant_id`. A tenant the key may not
//! use: `403 tenant_forbidden`. `GET /health` needs neither key nor tenant.
//!
//! How the pieces fit: the authentication middleware (outermost) turns the key into an
//! [`ApiKeyPrincipal`] in the request extensions; dynabao's `TenantLayer` reads `X-Tenant-ID`
//! (a tenant the client claims), asks the authorizer whether the principal may use it, and runs
//! the handler scoped to it. The process stops on Ctrl-C or SIGTERM.

#[path = "notes/mod.rs"]
mod notes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use dynabao::http::{authorize_principal, ErrorResponse, HeaderResolver, TenantLayer};
use dynabao::tenant::TenantId;
use dynabao::{Db, Tenancy};

/// `API_KEYS` when it is not set. For trying the example only.
pub const DEMO_API_KEYS: &str = "demo-key=acme|globex,initech-key=initech";

/// Paths that need no key and no tenant.
const PUBLIC_PATHS: [&str; 1] = ["/health"];

/// Who is calling: what the authentication middleware puts in the request extensions for the
/// tenant layer's authorizer. The key itself is not kept.
#[derive(Debug, Clone)]
pub struct ApiKeyPrincipal {
    /// The tenants this key may use.
    pub tenants: Arc<HashSet<TenantId>>,
}

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

/// Authentication: `Authorization: Bearer <key>` becomes an [`ApiKeyPrincipal`] in the request
/// extensions. Public paths pass without a key.
async fn authenticate(
    State(keys): State<Arc<ApiKeys>>,
    mut request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
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
    match keys.principal(key) {
        Some(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        None => unauthorized("unknown API key"),
    }
}

/// The whole service: the notes router, the tenant layer (`X-Tenant-ID`, authorized against
/// the key's tenants, `/health` excluded) and, outermost, authentication.
pub fn app(db: Db, keys: ApiKeys) -> Result<Router, dynabao::Error> {
    let tenants = TenantLayer::builder()
        .resolver(HeaderResolver::default())
        .authorizer(authorize_principal(
            |key: &ApiKeyPrincipal, tenant: &TenantId| {
                let allowed = key.tenants.contains(tenant);
                async move { Ok(allowed) }
            },
        ))
        .exclude("/health")
        .build()?;
    Ok(notes::router(db)
        .layer(tenants)
        .layer(middleware::from_fn_with_state(Arc::new(keys), authenticate)))
}

/// Connects to `DYNAMODB_ENDPOINT` (or the testkit's embedded engine) and creates the table
/// `DYNABAO_TABLE` (default `notes`) if it is missing.
///
/// The client is the testkit's: the endpoint above, region `us-east-1` and fixed local
/// credentials, which is what the local engines (dynoxide, DynamoDB Local, LocalStack) need. A service for AWS builds its
/// `Db` with `Db::connect(Config::from_env()?)` instead.
pub async fn connect() -> Result<Db, dynabao::Error> {
    let table = std::env::var("DYNABAO_TABLE").unwrap_or_else(|_| "notes".to_owned());
    let db = Db::new(dynabao::testkit::sdk_client().await?, table, Tenancy::On);
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
    let db = connect().await?;
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!(
        "notes service on http://{}, table {}",
        listener.local_addr()?,
        db.table()
    );
    axum::serve(listener, app(db, keys)?)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
