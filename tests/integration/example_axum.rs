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

use crate::support::{raw_scan, s};

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
        let db = fresh_db().await.unwrap();
        let keys = axum_service::ApiKeys::parse(keys).unwrap();
        let options = axum_service::AppOptions::default();
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

    async fn send(self) -> Reply {
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
