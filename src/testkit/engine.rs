//! The embedded engine: one in-memory dynoxide database per process, served over HTTP on a
//! loopback port by a runtime thread of its own.
//!
//! Why a loopback server and not an in-process `HttpClient` for the SDK (no socket): dynoxide's
//! DynamoDB wire layer (reading `X-Amz-Target`, checking the JSON body and the auth headers,
//! shaping errors per operation the way DynamoDB words them) is private to its `server` module;
//! its public API is one typed method per operation. An in-process client would have to rebuild
//! that dispatch by hand, and whatever it got wrong would make the embedded engine answer
//! differently from `dynoxide` as a server and from DynamoDB. Served over loopback, the SDK talks
//! to the same conformance-tested code as any other endpoint, through its real HTTP stack
//! (connection pool, timeouts, retries), so a test that passes here exercises what production
//! does. Measured with `examples/engine_latency.rs` (dev profile, as tests run, on a loaded 2-core
//! machine): a create or find took about 4.5-5 ms over loopback against 2-2.5 ms through an
//! in-process client that skips the wire layer, and 8-13 ms on Amazon's DynamoDB Local. Most of
//! either figure is the unoptimised SDK and HTTP code of the dev profile, not the engine; the
//! faithful wire layer is worth the difference.
//!
//! Why one engine per process and not one per test: [`super::endpoint`] is one URL, and everything
//! built from it ([`super::sdk_client`], a `Config` read from the environment, a second client a
//! test builds by hand) must see the same tables. Tests stay independent because each makes its
//! own table ([`super::fresh_db`]) or its own tenant ([`super::fresh_tenant`]). The database is
//! SQLite in memory; requests to it take turns on dynoxide's lock, which costs microseconds.
//!
//! Lifetime: the runtime thread serves until the process ends, however it ends (normal exit,
//! panic, Ctrl-C, SIGKILL): there is no child process and no file, so nothing outlives it. The
//! listener is bound before [`started`] returns, so the first request can be sent at once (it
//! waits in the accept queue until the server loop picks it up).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::thread;

use crate::Error;

/// How many runtime threads serve the engine: one parses HTTP while another runs a request.
const WORKER_THREADS: usize = 2;

/// The engine of this process, or why it could not be started. A failure is kept too, so a broken
/// setup fails every test at once with the same reason.
static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The running engine.
#[derive(Debug)]
pub(crate) struct Engine {
    /// `http://127.0.0.1:<port>`.
    pub(crate) endpoint: String,
}

/// The engine, started on first use. Concurrent first callers wait for one start.
pub(crate) fn started() -> Result<&'static Engine, Error> {
    ENGINE
        .get_or_init(start)
        .as_ref()
        .map_err(|e| Error::TestKit(e.clone()))
}

/// Opens the database, binds the port and hands both to the serving thread.
fn start() -> Result<Engine, String> {
    let db = dynoxide::Database::memory()
        .map_err(|e| format!("cannot open the embedded DynamoDB (dynoxide, in memory): {e}"))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind a loopback port for the embedded DynamoDB: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the embedded DynamoDB's address: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make the embedded DynamoDB's listener non-blocking: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("dynabao-engine")
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot build the embedded DynamoDB's runtime: {e}"))?;
    thread::Builder::new()
        .name("dynabao-engine-main".into())
        .spawn(move || serve(&runtime, listener, db, addr))
        .map_err(|e| format!("cannot spawn the embedded DynamoDB's thread: {e}"))?;
    Ok(Engine {
        endpoint: format!("http://{addr}"),
    })
}

/// Body of the serving thread: serves until the process ends. If serving stops anyway (the
/// listener failed), requests get "connection refused" and this says why on stderr.
fn serve(
    runtime: &tokio::runtime::Runtime,
    listener: TcpListener,
    db: dynoxide::Database,
    addr: SocketAddr,
) {
    let outcome = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        dynoxide::server::serve_with_shutdown(listener, db, std::future::pending()).await
    });
    let reason = match outcome {
        Ok(()) => "stopped".to_string(),
        Err(e) => e,
    };
    eprintln!("dynabao testkit: the embedded DynamoDB on {addr} stopped serving: {reason}");
}
