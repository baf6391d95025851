//! Faults at the SDK's HTTP layer: an `HttpClient` that wraps the real one and loses, delays or
//! replaces answers the way networks and servers do, so the SDK reports exactly the errors real
//! faults produce.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// One kind of fault [`HttpFaults`] injects into a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HttpFault {
    /// The connection is closed after the request was sent and before the engine saw it: not
    /// applied. The SDK reports what hyper reports for a connection closed without an answer
    /// (a dispatch failure of kind `TransientError`), because the request really is sent to a
    /// [`ClosingServer`] that reads it and closes the connection.
    DropBeforeApply,
    /// The engine applies the request, then the connection is closed without its answer
    /// (same error as [`DropBeforeApply`](HttpFault::DropBeforeApply)).
    DropAfterApply,
    /// The engine applies the request, and the answer is replaced with DynamoDB's HTTP 500
    /// `InternalServerError`.
    ServerErrorAfterApply,
    /// HTTP 400 `ProvisionedThroughputExceededException`; the engine never sees the request.
    Throttle,
    /// HTTP 400 `ThrottlingException`; the engine never sees the request.
    ThrottlingException,
    /// No answer ever, and the engine never sees the request (until the caller's timeout).
    HangBeforeApply,
    /// The engine applies the request, and its answer never arrives (until the caller's
    /// timeout).
    HangAfterApply,
    /// The request is answered normally after a delay ([`HttpFaults::latency`]).
    Latency,
}

impl HttpFault {
    /// Every kind, in a fixed order.
    pub const ALL: [HttpFault; 8] = [
        HttpFault::DropBeforeApply,
        HttpFault::DropAfterApply,
        HttpFault::ServerErrorAfterApply,
        HttpFault::Throttle,
        HttpFault::ThrottlingException,
        HttpFault::HangBeforeApply,
        HttpFault::HangAfterApply,
        HttpFault::Latency,
    ];

    /// Whether the engine applies the request despite the fault.
    pub fn applies(self) -> bool {
        matches!(
            self,
            HttpFault::DropAfterApply
                | HttpFault::ServerErrorAfterApply
                | HttpFault::HangAfterApply
                | HttpFault::Latency
        )
    }
}

/// Injects [`HttpFault`]s into the data-plane requests (items, queries, batches, transactions)
/// of the SDK clients it is [attached](HttpFaults::attach) to; table management is never
/// touched. Faults come from a queue ([`next`](HttpFaults::next)) first, then at random at a
/// [rate](HttpFaults::at_rate) from a seeded generator, so a run can be replayed.
///
/// It speaks plain HTTP to the endpoint, which suits local engines (the testkit's, DynamoDB
/// Local, LocalStack). Clones share one plan and one set of counters.
#[derive(Debug, Clone, Default)]
pub struct HttpFaults {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    plan: Mutex<Plan>,
    injected: Mutex<HashMap<HttpFault, usize>>,
    requests: AtomicUsize,
}

#[derive(Debug)]
struct Plan {
    queue: VecDeque<HttpFault>,
    rate: f64,
    mix: Vec<HttpFault>,
    latency: Duration,
    rng: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            queue: VecDeque::new(),
            rate: 0.0,
            mix: HttpFault::ALL.to_vec(),
            latency: Duration::from_millis(20),
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Plan {
    fn random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn decide(&mut self) -> Option<HttpFault> {
        if let Some(f) = self.queue.pop_front() {
            return Some(f);
        }
        if self.rate <= 0.0 || self.mix.is_empty() {
            return None;
        }
        let roll = (self.random() >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= self.rate {
            return None;
        }
        let pick = (self.random() % self.mix.len() as u64) as usize;
        self.mix.get(pick).copied()
    }
}

/// The operations faults apply to.
const DATA_PLANE: &[&str] = &[
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
];

impl HttpFaults {
    /// Injects nothing until told to.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` data-plane requests get `fault` (after the ones already queued).
    pub fn next(&self, fault: HttpFault, n: usize) {
        let mut plan = self.plan();
        plan.queue.extend(std::iter::repeat(fault).take(n));
    }

    /// From now on each data-plane request gets a fault with probability `rate`, its kind
    /// drawn uniformly from the [mix](HttpFaults::mix), from a generator seeded with `seed`.
    pub fn at_rate(&self, rate: f64, seed: u64) {
        let mut plan = self.plan();
        plan.rate = rate.clamp(0.0, 1.0);
        plan.rng = seed | 1;
    }

    /// The kinds random faults are drawn from (all of them by default).
    pub fn mix(&self, kinds: &[HttpFault]) {
        self.plan().mix = kinds.to_vec();
    }

    /// The delay of [`HttpFault::Latency`] (20 ms by default).
    pub fn latency(&self, delay: Duration) {
        self.plan().latency = delay;
    }

    /// Stops injecting (queue and rate); the counters stay.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.queue.clear();
        plan.rate = 0.0;
    }

    /// How many faults of each kind were injected so far.
    pub fn injected(&self) -> HashMap<HttpFault, usize> {
        self.shared
            .injected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many faults of `kind` were injected so far.
    pub fn injected_of(&self, kind: HttpFault) -> usize {
        self.injected().get(&kind).copied().unwrap_or(0)
    }

    /// How many data-plane requests passed through so far, faulty or not.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// An SDK `HttpClient` that injects this plan's faults into a plain-HTTP client.
    pub fn http_client(&self) -> SharedHttpClient {
        SharedHttpClient::new(FaultyClient {
            faults: self.clone(),
            inner: aws_smithy_http_client::Builder::new().build_http(),
            hole: aws_smithy_http_client::Builder::new().build_http(),
        })
    }

    /// Sets this injector's [`http_client`](HttpFaults::http_client) on an SDK config builder.
    pub fn attach(
        &self,
        builder: aws_sdk_dynamodb::config::Builder,
    ) -> aws_sdk_dynamodb::config::Builder {
        builder.http_client(self.http_client())
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.shared
            .plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn decide(&self, operation: Option<&str>) -> (Option<HttpFault>, Duration) {
        if !operation.is_some_and(|op| DATA_PLANE.contains(&op)) {
            return (None, Duration::ZERO);
        }
        self.shared.requests.fetch_add(1, Ordering::SeqCst);
        let mut plan = self.plan();
        let fault = plan.decide();
        if let Some(f) = fault {
            *self
                .shared
                .injected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(f)
                .or_default() += 1;
        }
        (fault, plan.latency)
    }
}

#[derive(Debug)]
struct FaultyClient {
    faults: HttpFaults,
    inner: SharedHttpClient,
    hole: SharedHttpClient,
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            faults: self.faults.clone(),
            inner: self.inner.http_connector(settings, components),
            hole: self.hole.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    faults: HttpFaults,
    inner: SharedHttpConnector,
    hole: SharedHttpConnector,
}

/// The DynamoDB operation of a request, from its `x-amz-target` header.
fn operation(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
}

/// DynamoDB's JSON error answer.
fn error_response(status: u16, code: &str, message: &str) -> Result<HttpResponse, ConnectorError> {
    let body =
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#);
    let status = StatusCode::try_from(status).map_err(|e| ConnectorError::user(e.into()))?;
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    Ok(response)
}

/// Sends `request` to the [`ClosingServer`], for the genuine error of a connection closed
/// without an answer.
async fn to_hole(
    hole: SharedHttpConnector,
    mut request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let server = ClosingServer::shared().map_err(|e| ConnectorError::io(e.into()))?;
    request
        .uri_mut()
        .set_endpoint(&server.endpoint())
        .map_err(|e| ConnectorError::user(e.into()))?;
    hole.call(request).await
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (fault, latency) = self.faults.decide(operation(&request));
        let inner = self.inner.clone();
        let hole = self.hole.clone();
        let Some(fault) = fault else {
            return inner.call(request);
        };
        HttpConnectorFuture::new(async move {
            match fault {
                HttpFault::Latency => {
                    tokio::time::sleep(latency).await;
                    inner.call(request).await
                }
                HttpFault::Throttle => error_response(
                    400,
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded.",
                ),
                HttpFault::ThrottlingException => error_response(
                    400,
                    "ThrottlingException",
                    "Rate of requests exceeds the allowed throughput.",
                ),
                HttpFault::DropBeforeApply => to_hole(hole, request).await,
                HttpFault::DropAfterApply => {
                    let copy = request.try_clone();
                    let _applied = inner.call(request).await;
                    match copy {
                        Some(copy) => to_hole(hole, copy).await,
                        None => Err(ConnectorError::io(
                            "connection closed (the request body could not be copied)".into(),
                        )),
                    }
                }
                HttpFault::ServerErrorAfterApply => {
                    let _applied = inner.call(request).await;
                    error_response(500, "InternalServerError", "Internal server error")
                }
                HttpFault::HangBeforeApply => {
                    drop(request);
                    std::future::pending().await
                }
                HttpFault::HangAfterApply => {
                    let _applied = inner.call(request).await;
                    std::future::pending().await
                }
            }
        })
    }
}

/// A loopback TCP server that reads each HTTP request in full and closes the connection
/// without answering: what a crashed server, or a load balancer closing an idle keep-alive
/// connection, does to a client. It runs on its own threads for the rest of the process, so
/// any test runtime can use it.
#[derive(Debug)]
pub struct ClosingServer {
    endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl ClosingServer {
    /// Starts a server of its own (for a test that counts its requests).
    pub fn start() -> std::io::Result<ClosingServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::Builder::new()
            .name("dynabao-testkit-closing-server".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let counter = counter.clone();
                    let _ = std::thread::Builder::new()
                        .name("dynabao-testkit-closing-conn".into())
                        .spawn(move || serve(stream, &counter));
                }
            })?;
        Ok(ClosingServer { endpoint, requests })
    }

    /// The process-wide server [`HttpFaults`] sends dropped requests to.
    pub fn shared() -> std::io::Result<&'static ClosingServer> {
        static SHARED: OnceLock<Result<ClosingServer, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| ClosingServer::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| std::io::Error::other(e.clone()))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The requests read (and left unanswered) so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads requests off one connection; after the first complete one, closes it.
fn serve(mut stream: TcpStream, requests: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                requests.fetch_add(1, Ordering::SeqCst);
                let _ = stream.flush();
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
