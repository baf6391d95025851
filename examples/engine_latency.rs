//! Request latency of `find` and `create` against a DynamoDB engine: the embedded one the testkit
//! starts, any endpoint in `DYNAMODB_ENDPOINT` (Amazon's DynamoDB Local, LocalStack, a dynoxide
//! server), and, for comparison, dynoxide called in process with no socket at all.
//!
//! ```sh
//! cargo run --example engine_latency                         # embedded engine (loopback)
//! DYNAMODB_ENDPOINT=http://127.0.0.1:8000 cargo run --example engine_latency
//! ENGINE_LATENCY_ITEMS=5000 cargo run --example engine_latency
//! ```
//!
//! It prints, per engine, the median, 90th percentile and mean of sequential `User::create` and
//! `User::find` calls (one request each). The in-process row uses an SDK `HttpClient` that hands
//! each request straight to `dynoxide::Database` (it dispatches only the operations this program
//! sends): the lower bound an in-process client could reach, and the reason the testkit's choice
//! of a loopback server is written down in `src/testkit/engine.rs`.
//!
//! Measured on the 2-core development machine (shared with other builds, so noisy), dev profile
//! (what `cargo test` runs), 1000 items, medians:
//!
//! | engine | create | find |
//! |---|---|---|
//! | embedded, loopback | 4.8 ms | 4.3 ms |
//! | dynoxide in process, no socket | 2.3 ms | 2.1 ms |
//! | Amazon's DynamoDB Local 3.3 (`DYNAMODB_ENDPOINT`) | 13.3 ms | 7.6 ms |
//!
//! Figures are printed, never asserted: they depend on the machine and its load.

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, RuntimeComponents};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Utc};
use dynabao::{Db, KeyPart, Model, Tenancy, TenantContext};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(by_status(gsi = 1, pk = "status", sk = "created_at")))]
struct User {
    #[bao(pk, auto)]
    id: Ulid,
    email: String,
    status: Status,
    #[bao(created_at)]
    created_at: DateTime<Utc>,
    #[bao(updated_at)]
    updated_at: DateTime<Utc>,
    #[bao(version)]
    version: u64,
}

fn user(n: usize) -> User {
    User {
        id: Ulid::nil(),
        email: format!("user{n}@example.test"),
        status: Status::Active,
        created_at: DateTime::default(),
        updated_at: DateTime::default(),
        version: 0,
    }
}

/// Median, 90th percentile and mean of a set of samples.
struct Figures {
    median: Duration,
    p90: Duration,
    mean: Duration,
}

impl Figures {
    fn of(mut samples: Vec<Duration>) -> Figures {
        samples.sort();
        let total: Duration = samples.iter().sum();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Figures {
            median: at(0.5),
            p90: at(0.9),
            mean: total / samples.len() as u32,
        }
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "median {:>7.0} µs, p90 {:>7.0} µs, mean {:>7.0} µs",
            us(self.median),
            us(self.p90),
            us(self.mean)
        )
    }
}

/// Creates `n` users one after another, then finds each, timing every call.
async fn measure(label: &str, client: aws_sdk_dynamodb::Client, n: usize) -> dynabao::Result<()> {
    let db = Db::new(
        client,
        dynabao::testkit::unique_name("latency-"),
        Tenancy::On,
    );
    db.create_table().await?;
    TenantContext::run_with_tenant("bench", async {
        // Warm-up: connections, the engine's first statements.
        for i in 0..20 {
            let u = User::create(&db, user(i)).await?;
            User::find(&db, &u.id).await?;
        }
        let mut ids = Vec::with_capacity(n);
        let mut creates = Vec::with_capacity(n);
        for i in 0..n {
            let start = Instant::now();
            let u = User::create(&db, user(i)).await?;
            creates.push(start.elapsed());
            ids.push(u.id);
        }
        let mut finds = Vec::with_capacity(n);
        for id in &ids {
            let start = Instant::now();
            let found = User::find(&db, id).await?;
            finds.push(start.elapsed());
            assert!(found.is_some(), "{id} was just created");
        }
        println!("{label:<32} create: {}", Figures::of(creates));
        println!("{label:<32} find:   {}", Figures::of(finds));
        Ok::<_, dynabao::Error>(())
    })
    .await?;
    db.delete_table().await
}

#[tokio::main]
async fn main() -> dynabao::Result<()> {
    let n: usize = std::env::var("ENGINE_LATENCY_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("{n} sequential calls each");
    let endpoint = dynabao::testkit::endpoint().await?;
    let label = if dynabao::testkit::is_embedded() {
        format!("embedded, loopback ({endpoint})")
    } else {
        format!("DYNAMODB_ENDPOINT ({endpoint})")
    };
    measure(&label, dynabao::testkit::sdk_client().await?, n).await?;
    measure("dynoxide in process, no socket", in_process_client()?, n).await
}

/// An SDK client whose requests are answered by an in-memory `dynoxide::Database` in this
/// process, with no HTTP at all.
fn in_process_client() -> dynabao::Result<aws_sdk_dynamodb::Client> {
    let db = dynoxide::Database::memory().map_err(|e| dynabao::Error::TestKit(e.to_string()))?;
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url("http://in-process.invalid")
        .http_client(SharedHttpClient::new(InProcess(db)))
        .build();
    Ok(aws_sdk_dynamodb::Client::from_conf(config))
}

/// Answers SDK requests with a direct call to the database (measurement only: it dispatches the
/// operations `measure` sends, and knows nothing of dynoxide's wire-level checks).
#[derive(Clone)]
struct InProcess(dynoxide::Database);

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcess")
    }
}

impl InProcess {
    fn dispatch(&self, operation: &str, body: &[u8]) -> Result<String, dynoxide::DynoxideError> {
        fn call<Req, Resp>(
            body: &[u8],
            op: impl FnOnce(Req) -> dynoxide::Result<Resp>,
        ) -> dynoxide::Result<String>
        where
            Req: serde::de::DeserializeOwned,
            Resp: Serialize,
        {
            let req = serde_json::from_slice(body)
                .map_err(|e| dynoxide::DynoxideError::SerializationException(e.to_string()))?;
            serde_json::to_string(&op(req)?)
                .map_err(|e| dynoxide::DynoxideError::InternalServerError(e.to_string()))
        }
        let db = &self.0;
        match operation {
            "CreateTable" => call(body, |r| db.create_table(r)),
            "DescribeTable" => call(body, |r| db.describe_table(r)),
            "DeleteTable" => call(body, |r| db.delete_table(r)),
            "UpdateTimeToLive" => call(body, |r| db.update_time_to_live(r)),
            "PutItem" => call(body, |r| db.put_item(r)),
            "GetItem" => call(body, |r| db.get_item(r)),
            other => Err(dynoxide::DynoxideError::ValidationException(format!(
                "{other} is not dispatched by this benchmark"
            ))),
        }
    }
}

impl HttpConnector for InProcess {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.split_once('.'))
            .map(|(_, op)| op.to_owned())
            .unwrap_or_default();
        let body = request.body().bytes().unwrap_or_default();
        let (status, json) = match self.dispatch(&operation, body) {
            Ok(json) => (200, json),
            Err(e) => (e.status_code(), e.to_json()),
        };
        let status = StatusCode::try_from(status)
            .unwrap_or_else(|_| StatusCode::try_from(500).expect("500 is a valid status code"));
        let mut response = Response::new(status, SdkBody::from(json));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for InProcess {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
