//! The `axum_service` example, driven over loopback HTTP: its whole contract (statuses, bodies,
//! paging, versions), and 2,000 concurrent requests over 50 tenants with a raw check of every
//! stored item afterwards.
//!
//! The example's `app` runs in-process on a free port of 127.0.0.1, with its own fresh table;
//! each test stops its server at the end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dynabao::tenant::TenantId;
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::Db;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{raw_scan, registry_items, s, tenant_items};

// Both this and the other notes example include examples/notes/mod.rs, so this binary loads it
// twice, as two separate modules, on purpose.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../examples/axum_service.rs"]
mod axum_service;

/// The example, serving on a free loopback port.
struct Server {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    db: Db,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// One answer: status, headers, and the body as JSON (`Null` when empty).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Server {
    /// Starts the example's app with `API_KEYS` = `keys` on a fresh table, with the default
    /// options (the demo admin key, registry off).
    async fn start(keys: &str) -> Server {
        Server::start_with(keys, axum_service::AppOptions::default()).await
    }

    /// Starts the example's app with `API_KEYS` = `keys` and `options` on a fresh table.
    async fn start_with(keys: &str, options: axum_service::AppOptions) -> Server {
        let db = fresh_db().await.unwrap();
        let keys = axum_service::ApiKeys::parse(keys).unwrap();
        let app = axum_service::app(db.clone(), keys, options).unwrap();
        // A backlog above the load test's 2,000 simultaneous connections (the default, 1024,
        // overflows and the kernel resets the connections it dropped).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(4096).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build_http();
        Server {
            base,
            client,
            db,
            stop,
            task,
        }
    }

    /// Stops the server and waits for it.
    async fn stop(self) {
        let _ = self.stop.send(());
        drop(self.client);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server did not stop")
            .unwrap();
    }

    fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            server: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// A request being built.
struct Call<'a> {
    server: &'a Server,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl Call<'_> {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `Authorization: Bearer <key>` and `X-Tenant-ID: <tenant>`.
    fn auth(self, key: &str, tenant: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
            .header("x-tenant-id", tenant)
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// `Authorization: Bearer <the demo admin key>`.
    fn admin(self) -> Self {
        self.header(
            "authorization",
            &format!("Bearer {}", axum_service::DEMO_ADMIN_KEY),
        )
    }

    /// Sends the request; the status, headers and body bytes.
    async fn send_raw(self) -> (u16, HeaderMap, Bytes) {
        let mut request = Request::builder()
            .method(self.method)
            .uri(format!("{}{}", self.server.base, self.path));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(self.body.unwrap_or_default())))
            .unwrap();
        let response = self.server.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes)
    }

    async fn send(self) -> Reply {
        let (status, headers, bytes) = self.send_raw().await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({ "error": code, "message": message })
}

/// Two fresh tenants, a key for both (`both`), a key for the first only (`first`).
fn two_tenants() -> (TenantId, TenantId, String) {
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let keys = format!("both={a}|{b},first={a}");
    (a, b, keys)
}

#[tokio::test]
async fn health_needs_no_key_and_no_tenant() {
    let server = Server::start("k=acme").await;
    let reply = server.call(Method::GET, "/health").send().await;
    assert_eq!((reply.status, reply.body), (200, json!({"status": "ok"})));
    let reply = server
        .call(Method::GET, "/health")
        .header("x-tenant-id", "not#valid")
        .send()
        .await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn refusals_have_their_status_and_stable_body() {
    let (a, b, keys) = two_tenants();
    let server = Server::start(&keys).await;
    fn post(builder: Call<'_>) -> Call<'_> {
        builder.json(json!({"title": "t", "body": "b", "tag": "x"}))
    }

    // No key, a key of another scheme, an unknown key: 401, asking for a bearer token.
    for request in [
        post(server.call(Method::POST, "/notes")).header("x-tenant-id", a.as_str()),
        post(server.call(Method::POST, "/notes"))
            .header("authorization", "Basic Zmlyc3Q6")
            .header("x-tenant-id", a.as_str()),
    ] {
        let reply = request.send().await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.body,
            error(
                "unauthorized",
                "send an API key as Authorization: Bearer <key>"
            )
        );
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    let reply = post(server.call(Method::POST, "/notes"))
        .auth("nope", a.as_str())
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (401, error("unauthorized", "unknown API key"))
    );

    // A known key without a tenant, with an invalid one, with one it may not use.
    let reply = post(server.call(Method::POST, "/notes"))
        .header("authorization", "Bearer first")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (400, error("tenant_required", "this request needs a tenant"))
    );
    assert_eq!(reply.headers["content-type"], "application/json");
    let reply = post(server.call(Method::POST, "/notes"))
        .auth("first", "acme#admin")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            400,
            error(
                "invalid_tenant_id",
                "invalid tenant id: contains '#' (the key separator)"
            )
        )
    );
    let reply = post(server.call(Method::POST, "/notes"))
        .auth("first", b.as_str())
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            403,
            error("tenant_forbidden", "not allowed to use this tenant")
        )
    );
    // Nothing was written by any of them.
    assert!(raw_scan(&server.db).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_get_update_delete() {
    let (a, _, keys) = two_tenants();
    let server = Server::start(&keys).await;
    let t = a.as_str();

    let created = server
        .call(Method::POST, "/notes")
        .auth("first", t)
        .json(json!({"title": "Plan", "body": "Ship the layer", "tag": "work"}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let note = created.body.clone();
    let mut fields: Vec<&str> = note
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "body",
            "created_at",
            "id",
            "tag",
            "title",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(
        (
            &note["title"],
            &note["body"],
            &note["tag"],
            &note["version"]
        ),
        (
            &json!("Plan"),
            &json!("Ship the layer"),
            &json!("work"),
            &json!(1)
        )
    );
    assert_eq!(note["created_at"], note["updated_at"]);
    assert_eq!(created.headers["etag"], "\"1\"");
    let id = note["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 26, "a ULID");

    let read = server
        .call(Method::GET, &format!("/notes/{id}"))
        .auth("first", t)
        .send()
        .await;
    assert_eq!((read.status, &read.body), (200, &note));

    for missing in [ulid::Ulid::new().to_string(), "not-a-ulid".to_owned()] {
        let reply = server
            .call(Method::GET, &format!("/notes/{missing}"))
            .auth("first", t)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (404, error("not_found", "no such note"))
        );
    }

    // Update one field; the version moves on.
    let patched = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("first", t)
        .json(json!({"title": "Plan v2"}))
        .send()
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(
        (
            &patched.body["title"],
            &patched.body["body"],
            &patched.body["version"]
        ),
        (&json!("Plan v2"), &json!("Ship the layer"), &json!(2))
    );
    assert_eq!(patched.body["created_at"], note["created_at"]);
    assert_ne!(patched.body["updated_at"], note["updated_at"]);

    // If-Match: a stale version is 412; the current one (quoted like an ETag, or bare) passes.
    let stale = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("first", t)
        .header("if-match", "1")
        .json(json!({"body": "lost update"}))
        .send()
        .await;
    assert_eq!(
        (stale.status, stale.body),
        (
            412,
            error(
                "version_conflict",
                "the note was changed since that version"
            )
        )
    );
    let current = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("first", t)
        .header("if-match", "\"2\"")
        .json(json!({"body": "kept", "tag": "done"}))
        .send()
        .await;
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(
        (
            &current.body["body"],
            &current.body["tag"],
            &current.body["version"]
        ),
        (&json!("kept"), &json!("done"), &json!(3))
    );
    assert_eq!(current.headers["etag"], "\"3\"");
    let bare = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("first", t)
        .header("if-match", "3")
        .json(json!({"title": "Plan v3"}))
        .send()
        .await;
    assert_eq!((bare.status, &bare.body["version"]), (200, &json!(4)));

    // The tag index follows the update.
    let done = server
        .call(Method::GET, "/notes?tag=done")
        .auth("first", t)
        .send()
        .await;
    assert_eq!(done.body["items"], json!([bare.body.clone()]));
    let work = server
        .call(Method::GET, "/notes?tag=work")
        .auth("first", t)
        .send()
        .await;
    assert_eq!(work.body, json!({"items": [], "cursor": null}));

    // Requests the API refuses.
    for (body, message) in [
        ("{}", "give at least one of title, body and tag"),
        (
            "{\"title\": \"\"}",
            "title must be 1 to 200 characters long",
        ),
    ] {
        let reply = server
            .call(Method::PATCH, &format!("/notes/{id}"))
            .auth("first", t)
            .raw(body)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (400, error("invalid_request", message))
        );
    }
    for body in ["not json", "{\"colour\": \"red\"}", "{\"title\": 7}"] {
        let reply = server
            .call(Method::PATCH, &format!("/notes/{id}"))
            .auth("first", t)
            .raw(body)
            .send()
            .await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!("invalid_request")),
            "{body}"
        );
    }
    let reply = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("first", t)
        .header("if-match", "latest")
        .json(json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            400,
            error("invalid_request", "If-Match must be a note version")
        )
    );
    let reply = server
        .call(Method::POST, "/notes")
        .auth("first", t)
        .json(json!({"title": "no tag", "body": ""}))
        .send()
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (400, &json!("invalid_request"))
    );
    let reply = server
        .call(Method::PATCH, &format!("/notes/{}", ulid::Ulid::new()))
        .auth("first", t)
        .json(json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such note"))
    );

    // Delete: 204 with no body, then 404.
    let deleted = server
        .call(Method::DELETE, &format!("/notes/{id}"))
        .auth("first", t)
        .send()
        .await;
    assert_eq!((deleted.status, deleted.body), (204, Value::Null));
    for method in [Method::DELETE, Method::GET] {
        let reply = server
            .call(method, &format!("/notes/{id}"))
            .auth("first", t)
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (404, error("not_found", "no such note"))
        );
    }

    // Unknown routes and methods answer in JSON too.
    let reply = server
        .call(Method::GET, "/nope")
        .auth("first", t)
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such route"))
    );
    let reply = server
        .call(Method::PUT, "/notes")
        .auth("first", t)
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            405,
            error("method_not_allowed", "method not allowed on this route")
        )
    );
    assert!(raw_scan(&server.db).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn tenants_never_see_each_others_notes() {
    let (a, b, keys) = two_tenants();
    let server = Server::start(&keys).await;
    let note = server
        .call(Method::POST, "/notes")
        .auth("both", a.as_str())
        .json(json!({"title": "A's", "body": "secret", "tag": "shared-tag"}))
        .send()
        .await
        .body;
    let id = note["id"].as_str().unwrap().to_owned();
    // The same key, switched to B: the note does not exist there, in any verb.
    let get = server
        .call(Method::GET, &format!("/notes/{id}"))
        .auth("both", b.as_str())
        .send()
        .await;
    assert_eq!(get.status, 404);
    let list = server
        .call(Method::GET, "/notes?tag=shared-tag")
        .auth("both", b.as_str())
        .send()
        .await;
    assert_eq!(list.body, json!({"items": [], "cursor": null}));
    let patch = server
        .call(Method::PATCH, &format!("/notes/{id}"))
        .auth("both", b.as_str())
        .json(json!({"title": "hijacked"}))
        .send()
        .await;
    assert_eq!(patch.status, 404);
    let delete = server
        .call(Method::DELETE, &format!("/notes/{id}"))
        .auth("both", b.as_str())
        .send()
        .await;
    assert_eq!(delete.status, 404);
    // A's note is intact, under A's keys.
    let get = server
        .call(Method::GET, &format!("/notes/{id}"))
        .auth("both", a.as_str())
        .send()
        .await;
    assert_eq!((get.status, &get.body), (200, &note));
    let items = raw_scan(&server.db).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        s(&items[0], "_pk"),
        Some(format!("[{a}]#note#{id}").as_str())
    );
    assert_eq!(s(&items[0], "title"), Some("A's"));
    server.stop().await;
}

#[tokio::test]
async fn list_pages_newest_first_with_cursors() {
    let (a, b, keys) = two_tenants();
    let server = Server::start(&keys).await;
    let t = a.as_str();
    let mut created = Vec::new();
    for n in 0..5 {
        let reply = server
            .call(Method::POST, "/notes")
            .auth("both", t)
            .json(json!({"title": format!("note {n}"), "body": "", "tag": "paged"}))
            .send()
            .await;
        assert_eq!(reply.status, 201);
        created.push(reply.body);
    }
    for n in 0..2 {
        server
            .call(Method::POST, "/notes")
            .auth("both", t)
            .json(json!({"title": format!("other {n}"), "body": "", "tag": "other"}))
            .send()
            .await;
    }
    let newest_first: Vec<Value> = created.iter().rev().cloned().collect();

    // Page through with limit 2, following cursors to the end.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first_cursor = None;
    for page in 0.. {
        assert!(page < 5, "too many pages");
        let path = match &cursor {
            None => "/notes?tag=paged&limit=2".to_owned(),
            Some(c) => format!("/notes?tag=paged&limit=2&cursor={c}"),
        };
        let reply = server.call(Method::GET, &path).auth("both", t).send().await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        if page == 0 {
            assert_eq!(items.len(), 2);
        }
        seen.extend(items.iter().cloned());
        match &reply.body["cursor"] {
            Value::Null => break,
            Value::String(c) => {
                assert!(
                    c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
                    "not URL-safe: {c}"
                );
                first_cursor.get_or_insert_with(|| c.clone());
                cursor = Some(c.clone());
            }
            other => panic!("cursor is {other}"),
        }
    }
    assert_eq!(seen, newest_first);

    // The default page holds them all.
    let all = server
        .call(Method::GET, "/notes?tag=paged")
        .auth("both", t)
        .send()
        .await;
    assert_eq!(all.body["items"], json!(newest_first));

    // A cursor is bound to its tenant and query, and cannot be edited.
    let cursor = first_cursor.unwrap();
    let invalid_cursor = error(
        "invalid_cursor",
        "the cursor is invalid, expired, or not for this query",
    );
    let mut edited: Vec<char> = cursor.chars().collect();
    let middle = edited.len() / 2;
    edited[middle] = if edited[middle] == 'A' { 'B' } else { 'A' };
    let edited: String = edited.into_iter().collect();
    for (tenant, path) in [
        (
            b.as_str(),
            format!("/notes?tag=paged&limit=2&cursor={cursor}"),
        ),
        (t, format!("/notes?tag=other&limit=2&cursor={cursor}")),
        (t, format!("/notes?tag=paged&limit=2&cursor={edited}")),
        (t, "/notes?tag=paged&cursor=garbage".to_owned()),
    ] {
        let reply = server
            .call(Method::GET, &path)
            .auth("both", tenant)
            .send()
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (400, &invalid_cursor),
            "{tenant} {path}"
        );
    }

    // Bad parameters.
    for (path, message) in [
        ("/notes", "the tag query parameter is required".to_owned()),
        (
            "/notes?tag=paged&limit=0",
            "limit must be 1 to 100".to_owned(),
        ),
        (
            "/notes?tag=paged&limit=101",
            "limit must be 1 to 100".to_owned(),
        ),
        (
            "/notes?tag=paged&limit=ten",
            "limit must be 1 to 100".to_owned(),
        ),
        (
            "/notes?tag=",
            "tag must be 1 to 64 characters long".to_owned(),
        ),
    ] {
        let reply = server.call(Method::GET, path).auth("both", t).send().await;
        assert_eq!(
            (reply.status, reply.body),
            (400, error("invalid_request", &message)),
            "{path}"
        );
    }
    server.stop().await;
}

/// Tenants, keys and requests of the load test.
const TENANTS: usize = 50;
const KEYS: usize = 10;
const OPERATIONS: usize = 2_000;

/// 2,000 operations over 50 tenants, all sent at once through the example over loopback: each
/// creates a note and reads it back (every tenth also lists its tenant's notes). Every response
/// must carry only its own tenant's data, and afterwards a raw scan must show every item under
/// the tenant that sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_requests_over_fifty_tenants() {
    let tenants: Vec<TenantId> = (0..TENANTS).map(|_| fresh_tenant()).collect();
    // Key k may use tenants k*5 .. k*5+5.
    let per_key = TENANTS / KEYS;
    let keys = (0..KEYS)
        .map(|k| {
            let allowed: Vec<&str> = tenants[k * per_key..(k + 1) * per_key]
                .iter()
                .map(TenantId::as_str)
                .collect();
            format!("key-{k}={}", allowed.join("|"))
        })
        .collect::<Vec<_>>()
        .join(",");
    let server = std::sync::Arc::new(Server::start(&keys).await);

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(OPERATIONS);
    for n in 0..OPERATIONS {
        let server = server.clone();
        let i = n % TENANTS;
        let tenant = tenants[i].to_string();
        let key = format!("key-{}", i / per_key);
        tasks.push(tokio::spawn(async move {
            let title = format!("{tenant}:{n}");
            let created = server
                .call(Method::POST, "/notes")
                .auth(&key, &tenant)
                .json(json!({"title": title, "body": format!("op {n}"), "tag": "load"}))
                .send()
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            assert_eq!(created.body["title"], title.as_str());
            let id = created.body["id"].as_str().unwrap().to_owned();
            let read = server
                .call(Method::GET, &format!("/notes/{id}"))
                .auth(&key, &tenant)
                .send()
                .await;
            assert_eq!((read.status, &read.body), (200, &created.body));
            let mut requests = 2;
            if n % 10 == 0 {
                let listed = server
                    .call(Method::GET, "/notes?tag=load&limit=100")
                    .auth(&key, &tenant)
                    .send()
                    .await;
                assert_eq!(listed.status, 200);
                let own = format!("{tenant}:");
                for item in listed.body["items"].as_array().unwrap() {
                    let title = item["title"].as_str().unwrap();
                    assert!(title.starts_with(&own), "{tenant} was shown {title}");
                }
                requests += 1;
            }
            requests
        }));
    }
    let mut requests = 0;
    for task in tasks {
        requests += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "axum_service load: {OPERATIONS} operations ({requests} HTTP requests) over {TENANTS} \
         tenants in {elapsed:?} ({:.0} requests/s)",
        requests as f64 / elapsed.as_secs_f64()
    );

    // Every stored item is under the tenant that sent it, and each tenant has exactly its own.
    let items = raw_scan(&server.db).await;
    assert_eq!(items.len(), OPERATIONS);
    let mut per_tenant: HashMap<String, usize> = HashMap::new();
    for item in &items {
        let pk = s(item, "_pk").unwrap();
        let title = s(item, "title").unwrap();
        let (sender, _) = title.split_once(':').unwrap();
        assert!(
            pk.starts_with(&format!("[{sender}]#note#")),
            "{pk} holds {title}"
        );
        for attr in ["_sk", "_gsi1_pk", "_gsi1_sk"] {
            let key = s(item, attr).unwrap();
            assert!(
                key.starts_with(&format!("[{sender}]#note#")),
                "{attr} {key}"
            );
        }
        *per_tenant.entry(sender.to_owned()).or_default() += 1;
    }
    assert_eq!(per_tenant.len(), TENANTS);
    assert!(per_tenant.values().all(|&n| n == OPERATIONS / TENANTS));

    match std::sync::Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("a request task still holds the server"),
    }
}

// ---------------------------------------------------------------------------------------------
// The admin API (the tenant registry) and the notes API with `REGISTRY=on`.

/// A fresh tenant id that is also a valid subdomain label (lowercase).
fn fresh_label() -> String {
    fresh_tenant().as_str().to_ascii_lowercase()
}

/// The example with the registry on (the demo admin key).
fn registry_on() -> axum_service::AppOptions {
    axum_service::AppOptions {
        registry: true,
        ..axum_service::AppOptions::default()
    }
}

impl Server {
    /// `POST /admin/tenants` with `body`, as the admin.
    async fn provision(&self, body: Value) -> Reply {
        self.call(Method::POST, "/admin/tenants")
            .admin()
            .json(body)
            .send()
            .await
    }

    /// Provisions tenant `id` (named after it), asserting the 201.
    async fn provisioned(&self, id: &str) -> Value {
        let reply = self.provision(json!({"id": id, "name": id})).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }

    /// Creates a note in `tenant` with API key `key`, asserting the 201.
    async fn note(&self, key: &str, tenant: &str, title: &str) -> Value {
        let reply = self
            .call(Method::POST, "/notes")
            .auth(key, tenant)
            .json(json!({"title": title, "body": "b", "tag": "t"}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }
}

/// The sorted field names of a JSON object.
fn fields(value: &Value) -> Vec<String> {
    let mut fields: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    fields.sort_unstable();
    fields
}

#[tokio::test]
async fn admin_needs_the_admin_key() {
    let (a, _, keys) = two_tenants();
    let server = Server::start(&keys).await;
    let body = json!({"id": a.as_str(), "name": "A"});
    let routes = [
        (Method::POST, "/admin/tenants".to_owned()),
        (Method::GET, "/admin/tenants".to_owned()),
        (Method::GET, format!("/admin/tenants/{a}")),
        (Method::PATCH, format!("/admin/tenants/{a}")),
        (Method::DELETE, format!("/admin/tenants/{a}")),
        (Method::POST, format!("/admin/tenants/{a}/api-keys")),
        (Method::GET, format!("/admin/tenants/{a}/api-keys")),
        (Method::DELETE, format!("/admin/tenants/{a}/api-keys/dbk_x")),
        (Method::GET, format!("/admin/tenants/{a}/export")),
        (Method::GET, "/admin".to_owned()),
    ];
    for (method, path) in routes {
        // No key, another scheme, a wrong key, an API_KEYS key: all 401.
        let requests = [
            server.call(method.clone(), &path),
            server
                .call(method.clone(), &path)
                .header("authorization", "Basic ZGVtby1hZG1pbi1rZXk6"),
            server
                .call(method.clone(), &path)
                .header("authorization", "Bearer not-the-admin-key"),
            server
                .call(method.clone(), &path)
                .header("authorization", "Bearer both")
                .header("x-tenant-id", a.as_str()),
            server
                .call(method.clone(), &path)
                .header("authorization", "Bearer demo-admin-key-but-longer"),
        ];
        for request in requests {
            let reply = request.json(body.clone()).send().await;
            assert_eq!(reply.status, 401, "{method} {path}: {:?}", reply.body);
            assert_eq!(reply.body["error"], "unauthorized", "{method} {path}");
            assert!(reply.body["message"].is_string());
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
            assert_eq!(reply.headers["content-type"], "application/json");
        }
    }
    assert!(raw_scan(&server.db).await.is_empty());

    // The admin key is no key of the notes API.
    let reply = server
        .call(Method::GET, "/notes?tag=x")
        .auth(axum_service::DEMO_ADMIN_KEY, a.as_str())
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (401, error("unauthorized", "unknown API key"))
    );

    // A configured admin key replaces the demo one; an empty one is refused.
    let custom = Server::start_with(
        &keys,
        axum_service::AppOptions {
            admin_key: "s3cret".to_owned(),
            registry: false,
        },
    )
    .await;
    let reply = custom
        .call(Method::GET, "/admin/tenants")
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, 401);
    let reply = custom
        .call(Method::GET, "/admin/tenants")
        .header("authorization", "Bearer s3cret")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (200, json!({"items": [], "cursor": null}))
    );
    custom.stop().await;
    let empty = axum_service::app(
        server.db.clone(),
        axum_service::ApiKeys::default(),
        axum_service::AppOptions {
            admin_key: " ".to_owned(),
            registry: false,
        },
    );
    assert!(empty.is_err());
    server.stop().await;
}

#[tokio::test]
async fn admin_provisions_and_reads_tenants() {
    let server = Server::start("k=acme").await;
    let t = fresh_tenant();
    let label = fresh_label();

    let created = server
        .provision(json!({
            "id": t.as_str(),
            "name": "Acme Inc.",
            "subdomain": label,
            "config": {"plan": "pro", "limits": {"notes": 10}},
        }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let record = created.body.clone();
    assert_eq!(
        fields(&record),
        [
            "config",
            "created_at",
            "domains",
            "id",
            "name",
            "status",
            "subdomain",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(record["id"], t.as_str());
    assert_eq!(record["name"], "Acme Inc.");
    assert_eq!(record["status"], "active");
    assert_eq!(record["subdomain"], label.as_str());
    assert_eq!(record["domains"], json!([]));
    assert_eq!(
        record["config"],
        json!({"plan": "pro", "limits": {"notes": 10}})
    );
    assert!(record["version"].is_u64());
    assert_eq!(
        created.headers["etag"],
        format!("\"{}\"", record["version"]).as_str()
    );

    // Without subdomain and config: no subdomain, an empty configuration.
    let plain = fresh_tenant();
    let reply = server
        .provision(json!({"id": plain.as_str(), "name": "Plain"}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(
        (&reply.body["subdomain"], &reply.body["config"]),
        (&Value::Null, &json!({}))
    );

    // Read back.
    let read = server
        .call(Method::GET, &format!("/admin/tenants/{t}"))
        .admin()
        .send()
        .await;
    assert_eq!((read.status, &read.body), (200, &record));
    for missing in [fresh_tenant().to_string(), "not%23valid".to_owned()] {
        let reply = server
            .call(Method::GET, &format!("/admin/tenants/{missing}"))
            .admin()
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (404, error("not_found", "no such tenant")),
            "{missing}"
        );
    }

    let before = raw_scan(&server.db).await.len();
    // An invalid id.
    for bad in ["acme#admin", "", "has space"] {
        let reply = server.provision(json!({"id": bad, "name": "Bad"})).await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!("invalid_tenant_id")),
            "{bad}"
        );
    }
    // A taken id, with the same body or another one; a taken subdomain.
    for body in [
        json!({"id": t.as_str(), "name": "Acme Inc.", "subdomain": label}),
        json!({"id": t.as_str(), "name": "Someone else"}),
        json!({"id": fresh_tenant().as_str(), "name": "Copycat", "subdomain": label}),
    ] {
        let reply = server.provision(body.clone()).await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (409, &json!("conflict")),
            "{body}"
        );
        assert!(reply.body["message"].is_string());
    }
    // Other bad input: 400 invalid_request.
    for body in [
        json!({"id": fresh_tenant().as_str(), "name": "Bad", "subdomain": "Not_A_Label"}),
        json!({"id": fresh_tenant().as_str(), "name": " "}),
        json!({"id": fresh_tenant().as_str(), "name": "Bad", "config": [1, 2]}),
        json!({"id": fresh_tenant().as_str()}),
        json!({"name": "no id"}),
    ] {
        let reply = server.provision(body.clone()).await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!("invalid_request")),
            "{body}"
        );
    }
    let reply = server
        .call(Method::POST, "/admin/tenants")
        .admin()
        .raw("not json")
        .send()
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (400, &json!("invalid_request"))
    );
    // None of the refused requests stored anything.
    assert_eq!(raw_scan(&server.db).await.len(), before);

    // Unknown routes and methods under /admin answer in JSON too.
    let reply = server.call(Method::GET, "/admin/nope").admin().send().await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such route"))
    );
    let reply = server
        .call(Method::PUT, "/admin/tenants")
        .admin()
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            405,
            error("method_not_allowed", "method not allowed on this route")
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_lists_tenants_with_cursors() {
    let server = Server::start("k=acme").await;
    let mut ids: Vec<String> = (0..5).map(|_| fresh_tenant().to_string()).collect();
    for id in &ids {
        server.provisioned(id).await;
    }
    ids.sort();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        assert!(pages < 5, "too many pages");
        let path = match &cursor {
            None => "/admin/tenants?limit=2".to_owned(),
            Some(c) => format!("/admin/tenants?limit=2&cursor={c}"),
        };
        let reply = server.call(Method::GET, &path).admin().send().await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(fields(&reply.body), ["cursor", "items"]);
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        if pages == 0 {
            assert_eq!(items.len(), 2);
        }
        for item in items {
            assert_eq!(item["status"], "active");
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match &reply.body["cursor"] {
            Value::Null => break,
            Value::String(c) => cursor = Some(c.clone()),
            other => panic!("cursor is {other}"),
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(seen, ids, "every tenant once, in id order");

    // The default page holds them all.
    let all = server
        .call(Method::GET, "/admin/tenants")
        .admin()
        .send()
        .await;
    let listed: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(all.body["cursor"], Value::Null);

    for (path, code) in [
        ("/admin/tenants?limit=0", "invalid_request"),
        ("/admin/tenants?limit=101", "invalid_request"),
        ("/admin/tenants?limit=ten", "invalid_request"),
        ("/admin/tenants?cursor=garbage", "invalid_cursor"),
    ] {
        let reply = server.call(Method::GET, path).admin().send().await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!(code)),
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn admin_patches_status_config_and_name() {
    let server = Server::start("k=acme").await;
    let t = fresh_tenant();
    let created = server
        .provision(json!({
            "id": t.as_str(),
            "name": "Acme",
            "config": {"plan": "free", "limits": {"notes": 10, "users": 3}},
        }))
        .await
        .body;
    let path = format!("/admin/tenants/{t}");
    let patch = |body: Value| server.call(Method::PATCH, &path).admin().json(body);

    let suspended = patch(json!({"status": "suspended"})).send().await;
    assert_eq!(suspended.status, 200, "{:?}", suspended.body);
    assert_eq!(suspended.body["status"], "suspended");
    assert_eq!(suspended.body["config"], created["config"]);
    let v1 = suspended.body["version"].as_u64().unwrap();
    assert!(v1 > created["version"].as_u64().unwrap());

    // The configuration is merged: members replaced, objects merged, null removes.
    let merged = patch(json!({
        "config": {"limits": {"notes": 100, "users": null}, "beta": true},
    }))
    .send()
    .await;
    assert_eq!(merged.status, 200, "{:?}", merged.body);
    assert_eq!(
        merged.body["config"],
        json!({"plan": "free", "limits": {"notes": 100}, "beta": true})
    );
    assert_eq!(merged.body["status"], "suspended");

    let renamed = patch(json!({"name": "Acme Corp", "status": "active"}))
        .send()
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(
        (&renamed.body["name"], &renamed.body["status"]),
        (&json!("Acme Corp"), &json!("active"))
    );
    let current = renamed.body["version"].as_u64().unwrap();
    assert_eq!(renamed.headers["etag"], format!("\"{current}\"").as_str());

    // If-Match: a stale version is 412 and changes nothing; the current one passes.
    let stale = patch(json!({"name": "Lost update"}))
        .header("if-match", &v1.to_string())
        .send()
        .await;
    assert_eq!(
        (stale.status, &stale.body["error"]),
        (412, &json!("version_conflict"))
    );
    let read = server.call(Method::GET, &path).admin().send().await;
    assert_eq!(read.body, renamed.body);
    let fresh = patch(json!({"config": {"plan": "pro"}}))
        .header("if-match", &format!("\"{current}\""))
        .send()
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    assert_eq!(fresh.body["config"]["plan"], "pro");

    // Refused: 400, and 404 for an unknown tenant.
    for body in [
        json!({}),
        json!({"status": "offboarding"}),
        json!({"status": "pending"}),
        json!({"status": "bogus"}),
        json!({"colour": "red"}),
        json!({"config": "flat"}),
        json!({"name": ""}),
    ] {
        let reply = patch(body.clone()).send().await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!("invalid_request")),
            "{body}"
        );
    }
    let reply = patch(json!({"name": "x"}))
        .header("if-match", "latest")
        .send()
        .await;
    assert_eq!(reply.status, 400);
    let reply = server
        .call(Method::PATCH, &format!("/admin/tenants/{}", fresh_tenant()))
        .admin()
        .json(json!({"status": "suspended"}))
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such tenant"))
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_issues_lists_and_revokes_api_keys() {
    let server = Server::start("k=acme").await;
    let t = fresh_tenant();
    server.provisioned(t.as_str()).await;
    let path = format!("/admin/tenants/{t}/api-keys");

    let mut issued = Vec::new();
    for name in ["ci", "billing export"] {
        let reply = server
            .call(Method::POST, &path)
            .admin()
            .json(json!({"name": name}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        assert_eq!(fields(&reply.body), ["created_at", "key", "name", "prefix"]);
        assert_eq!(reply.body["name"], name);
        let key = reply.body["key"].as_str().unwrap().to_owned();
        let prefix = reply.body["prefix"].as_str().unwrap().to_owned();
        assert!(key.starts_with(&format!("{prefix}_")), "{key} {prefix}");
        issued.push((key, prefix, reply.body));
    }

    let (status, _, bytes) = server.call(Method::GET, &path).admin().send_raw().await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for (key, _, _) in &issued {
        assert!(!text.contains(key.as_str()), "the list shows a secret");
    }
    let listed: Value = serde_json::from_str(&text).unwrap();
    let want: Vec<Value> = issued
        .iter()
        .map(|(_, prefix, body)| {
            json!({"name": body["name"], "prefix": prefix, "created_at": body["created_at"]})
        })
        .collect();
    assert_eq!(listed, json!(want));

    // Revoke the first: 204, gone from the list; again 404.
    let revoke = format!("{path}/{}", issued[0].1);
    let reply = server.call(Method::DELETE, &revoke).admin().send().await;
    assert_eq!((reply.status, reply.body), (204, Value::Null));
    let listed = server.call(Method::GET, &path).admin().send().await;
    assert_eq!(listed.body, json!([want[1].clone()]));
    let reply = server.call(Method::DELETE, &revoke).admin().send().await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such API key"))
    );
    // Another tenant cannot revoke it.
    let other = fresh_tenant();
    server.provisioned(other.as_str()).await;
    let reply = server
        .call(
            Method::DELETE,
            &format!("/admin/tenants/{other}/api-keys/{}", issued[1].1),
        )
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, 404);
    let listed = server.call(Method::GET, &path).admin().send().await;
    assert_eq!(listed.body, json!([want[1].clone()]));

    // A bad name; an unknown tenant.
    for body in [json!({"name": ""}), json!({}), json!({"name": 7})] {
        let reply = server
            .call(Method::POST, &path)
            .admin()
            .json(body.clone())
            .send()
            .await;
        assert_eq!(
            (reply.status, &reply.body["error"]),
            (400, &json!("invalid_request")),
            "{body}"
        );
    }
    let unknown = format!("/admin/tenants/{}/api-keys", fresh_tenant());
    let reply = server
        .call(Method::POST, &unknown)
        .admin()
        .json(json!({"name": "ci"}))
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such tenant"))
    );
    let reply = server.call(Method::GET, &unknown).admin().send().await;
    assert_eq!(reply.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn admin_exports_a_tenant_as_json_lines() {
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let server = Server::start(&format!("k={a}|{b}")).await;
    server.provisioned(a.as_str()).await;
    server.provisioned(b.as_str()).await;
    let mut titles = Vec::new();
    for n in 0..3 {
        let title = format!("a{n}");
        server.note("k", a.as_str(), &title).await;
        titles.push(title);
    }
    server.note("k", b.as_str(), "b's").await;

    let (status, headers, bytes) = server
        .call(Method::GET, &format!("/admin/tenants/{a}/export"))
        .admin()
        .send_raw()
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let stored = tenant_items(&server.db, a.as_str()).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(lines.len(), stored.len());
    let mut exported = Vec::new();
    for line in &lines {
        assert_eq!(
            fields(line),
            ["attributes", "kind", "model", "model_prefix", "pk", "sk"]
        );
        assert_eq!(line["model_prefix"], "note");
        assert_eq!(line["kind"], "item");
        assert_eq!(line["model"], "Note");
        let id = line["attributes"]["id"].as_str().unwrap();
        assert_eq!(line["pk"], json!([id]));
        assert!(line["sk"].is_array());
        assert_eq!(line["attributes"]["tag"], "t");
        exported.push(line["attributes"]["title"].as_str().unwrap().to_owned());
    }
    exported.sort();
    assert_eq!(exported, titles);

    // A tenant with nothing stored exports nothing; an unknown one is 404.
    let empty = fresh_tenant();
    server.provisioned(empty.as_str()).await;
    let (status, headers, bytes) = server
        .call(Method::GET, &format!("/admin/tenants/{empty}/export"))
        .admin()
        .send_raw()
        .await;
    assert_eq!(
        (
            status,
            headers["content-type"].to_str().unwrap(),
            bytes.len()
        ),
        (200, "application/x-ndjson", 0)
    );
    let reply = server
        .call(
            Method::GET,
            &format!("/admin/tenants/{}/export", fresh_tenant()),
        )
        .admin()
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("not_found", "no such tenant"))
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_offboards_a_tenant_completely() {
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let server = Server::start(&format!("k={a}|{b}")).await;
    let created = server
        .provision(json!({"id": a.as_str(), "name": "A", "subdomain": fresh_label()}))
        .await;
    assert_eq!(created.status, 201);
    server.provisioned(b.as_str()).await;
    for n in 0..4 {
        server.note("k", a.as_str(), &format!("a{n}")).await;
    }
    let kept = server.note("k", b.as_str(), "b's").await;
    let key = server
        .call(Method::POST, &format!("/admin/tenants/{a}/api-keys"))
        .admin()
        .json(json!({"name": "ci"}))
        .send()
        .await;
    assert_eq!(key.status, 201);
    assert_eq!(tenant_items(&server.db, a.as_str()).await.len(), 4);
    assert_eq!(registry_items(&server.db, a.as_str()).await.len(), 3);

    let reply = server
        .call(Method::DELETE, &format!("/admin/tenants/{a}"))
        .admin()
        .send()
        .await;
    assert_eq!((reply.status, reply.body), (204, Value::Null));

    // Nothing of A is stored: no item of its keyspace, no record, host claim or API key.
    let items = raw_scan(&server.db).await;
    let prefix = format!("[{a}]#");
    assert!(
        !items
            .iter()
            .any(|i| s(i, "_pk").is_some_and(|pk| pk.starts_with(&prefix))),
        "an item of the offboarded tenant is left"
    );
    assert!(registry_items(&server.db, a.as_str()).await.is_empty());
    // B is untouched.
    assert_eq!(tenant_items(&server.db, b.as_str()).await.len(), 1);
    assert_eq!(registry_items(&server.db, b.as_str()).await.len(), 1);
    let read = server
        .call(
            Method::GET,
            &format!("/notes/{}", kept["id"].as_str().unwrap()),
        )
        .auth("k", b.as_str())
        .send()
        .await;
    assert_eq!((read.status, &read.body), (200, &kept));

    for (method, path) in [
        (Method::GET, format!("/admin/tenants/{a}")),
        (Method::DELETE, format!("/admin/tenants/{a}")),
        (Method::DELETE, format!("/admin/tenants/{}", fresh_tenant())),
    ] {
        let reply = server.call(method.clone(), &path).admin().send().await;
        assert_eq!(
            (reply.status, reply.body),
            (404, error("not_found", "no such tenant")),
            "{method} {path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn with_the_registry_on_the_notes_api_admits_registered_tenants_only() {
    let (active, suspended, unknown, leaving) = (
        fresh_tenant(),
        fresh_tenant(),
        fresh_tenant(),
        fresh_tenant(),
    );
    let keys = format!("k={active}|{suspended}|{unknown}|{leaving}");
    let server = Server::start_with(&keys, registry_on()).await;
    server.provisioned(active.as_str()).await;
    server.provisioned(suspended.as_str()).await;
    server.provisioned(leaving.as_str()).await;
    let reply = server
        .call(Method::PATCH, &format!("/admin/tenants/{suspended}"))
        .admin()
        .json(json!({"status": "suspended"}))
        .send()
        .await;
    assert_eq!(reply.status, 200);
    // Being offboarded (started by another process, say): its record says so.
    let other_process = dynabao::registry::TenantRegistry::<Value>::new(&server.db).unwrap();
    drop(other_process.offboarding(&leaving).await.unwrap());

    let post = |tenant: &TenantId| {
        server
            .call(Method::POST, "/notes")
            .auth("k", tenant.as_str())
            .json(json!({"title": "t", "body": "b", "tag": "x"}))
    };
    let reply = post(&unknown).send().await;
    assert_eq!(
        (reply.status, reply.body),
        (404, error("tenant_not_found", "no such tenant"))
    );
    let reply = post(&suspended).send().await;
    assert_eq!(
        (reply.status, reply.body),
        (403, error("tenant_suspended", "the tenant is suspended"))
    );
    let reply = post(&leaving).send().await;
    assert_eq!(
        (reply.status, reply.body),
        (
            403,
            error("tenant_unavailable", "the tenant is not in service")
        )
    );
    assert!(tenant_items(&server.db, unknown.as_str()).await.is_empty());
    assert!(tenant_items(&server.db, suspended.as_str())
        .await
        .is_empty());

    // An API_KEYS principal works for a registered, active tenant, as without the registry.
    let reply = post(&active).send().await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let reply = server
        .call(Method::GET, "/notes?tag=x")
        .auth("k", active.as_str())
        .send()
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 1);
    // Its other refusals are unchanged.
    let reply = server
        .call(Method::GET, "/notes?tag=x")
        .header("authorization", "Bearer k")
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (400, error("tenant_required", "this request needs a tenant"))
    );
    let reply = server
        .call(Method::GET, "/notes?tag=x")
        .auth("nope", active.as_str())
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (401, error("unauthorized", "unknown API key"))
    );

    // Reactivated, the suspended tenant is served again at once.
    let reply = server
        .call(Method::PATCH, &format!("/admin/tenants/{suspended}"))
        .admin()
        .json(json!({"status": "active"}))
        .send()
        .await;
    assert_eq!(reply.status, 200);
    let reply = post(&suspended).send().await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    server.stop().await;
}

#[tokio::test]
async fn with_the_registry_on_a_registry_key_names_its_tenant() {
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let server = Server::start_with(&format!("k={a}|{b}"), registry_on()).await;
    server.provisioned(a.as_str()).await;
    server.provisioned(b.as_str()).await;
    let issued = server
        .call(Method::POST, &format!("/admin/tenants/{a}/api-keys"))
        .admin()
        .json(json!({"name": "ci"}))
        .send()
        .await;
    assert_eq!(issued.status, 201);
    let key = issued.body["key"].as_str().unwrap().to_owned();
    let prefix = issued.body["prefix"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {key}");

    // No X-Tenant-ID: the key's tenant.
    let created = server
        .call(Method::POST, "/notes")
        .header("authorization", &bearer)
        .json(json!({"title": "by key", "body": "b", "tag": "k"}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let stored = tenant_items(&server.db, a.as_str()).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        s(&stored[0], "_pk"),
        Some(format!("[{a}]#note#{id}").as_str())
    );
    let read = server
        .call(Method::GET, &format!("/notes/{id}"))
        .header("authorization", &bearer)
        .send()
        .await;
    assert_eq!((read.status, &read.body), (200, &created.body));
    // X-Tenant-ID naming its own tenant: the same.
    let read = server
        .call(Method::GET, &format!("/notes/{id}"))
        .auth(&key, a.as_str())
        .send()
        .await;
    assert_eq!((read.status, &read.body), (200, &created.body));
    // Another tenant's X-Tenant-ID with it: 403, nothing written.
    for method in [Method::GET, Method::POST] {
        let reply = server
            .call(method.clone(), "/notes?tag=k")
            .auth(&key, b.as_str())
            .json(json!({"title": "sneaky", "body": "b", "tag": "k"}))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (
                403,
                error("tenant_mismatch", "the request names more than one tenant")
            ),
            "{method}"
        );
    }
    assert!(tenant_items(&server.db, b.as_str()).await.is_empty());
    // The key is no admin key.
    let reply = server
        .call(Method::GET, "/admin/tenants")
        .header("authorization", &bearer)
        .send()
        .await;
    assert_eq!(reply.status, 401);

    // Its tenant suspended, the key is refused with the tenant's status.
    server
        .call(Method::PATCH, &format!("/admin/tenants/{a}"))
        .admin()
        .json(json!({"status": "suspended"}))
        .send()
        .await;
    let reply = server
        .call(Method::GET, "/notes?tag=k")
        .header("authorization", &bearer)
        .send()
        .await;
    assert_eq!(
        (reply.status, &reply.body["error"]),
        (403, &json!("tenant_suspended"))
    );
    server
        .call(Method::PATCH, &format!("/admin/tenants/{a}"))
        .admin()
        .json(json!({"status": "active"}))
        .send()
        .await;

    // Revoked, it stops working at once; an unknown key of the same shape never worked.
    let reply = server
        .call(
            Method::DELETE,
            &format!("/admin/tenants/{a}/api-keys/{prefix}"),
        )
        .admin()
        .send()
        .await;
    assert_eq!(reply.status, 204);
    let forged = format!("{prefix}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for key in [key.as_str(), forged.as_str()] {
        let reply = server
            .call(Method::GET, "/notes?tag=k")
            .header("authorization", &format!("Bearer {key}"))
            .send()
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (401, error("unauthorized", "unknown API key"))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn with_the_registry_off_registry_keys_and_tenants_change_nothing() {
    let (a, unregistered) = (fresh_tenant(), fresh_tenant());
    let server = Server::start(&format!("k={a}|{unregistered}")).await;
    server.provisioned(a.as_str()).await;
    let issued = server
        .call(Method::POST, &format!("/admin/tenants/{a}/api-keys"))
        .admin()
        .json(json!({"name": "ci"}))
        .send()
        .await;
    let key = issued.body["key"].as_str().unwrap().to_owned();
    // The registry's key is unknown to the notes API ...
    let reply = server
        .call(Method::GET, "/notes?tag=x")
        .auth(&key, a.as_str())
        .send()
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (401, error("unauthorized", "unknown API key"))
    );
    // ... and a tenant need not be registered, nor active.
    server.note("k", unregistered.as_str(), "fine").await;
    server
        .call(Method::PATCH, &format!("/admin/tenants/{a}"))
        .admin()
        .json(json!({"status": "suspended"}))
        .send()
        .await;
    server.note("k", a.as_str(), "still fine").await;
    server.stop().await;
}
