//! A real DynamoDB for tests and examples (feature `testkit`).
//!
//! [`endpoint`] decides where DynamoDB is:
//!
//! - `DYNAMODB_ENDPOINT` set and not empty: that endpoint, used as is (Amazon's DynamoDB Local,
//!   LocalStack, a dynoxide server such as `localstack/dynamodb-local.sh start` runs, or AWS).
//! - Otherwise an embedded engine: [dynoxide](https://github.com/nubo-db/dynoxide) (crate
//!   `dynoxide-rs`, MIT OR Apache-2.0), a DynamoDB engine on SQLite, in memory, inside this
//!   process. The first call starts it on a free `127.0.0.1` port, served by a runtime thread of
//!   its own; every later call (from any test, any runtime) gets the same engine. Nothing to
//!   install (no Java, no npm, no Docker), no child process, and nothing left behind however the
//!   process ends, a panic or SIGKILL included. The module docs of `engine.rs` say why it is a
//!   loopback server and one engine per process.
//!
//! Tests share the engine, so each should use its own table ([`fresh_db`], [`unique_name`]) or its
//! own tenant ([`fresh_tenant`]); they then run independently and in parallel. Under
//! cargo-nextest every test is its own process with its own engine, which starts in about a
//! millisecond.
//!
//! Known differences from DynamoDB (and from Amazon's DynamoDB Local), which the integration
//! tests take into account in one place (`tests/integration/support.rs`, module `engines`):
//!
//! - every read is strongly consistent (`ConsistentRead` is accepted and changes nothing);
//! - requests take turns on one database lock, so concurrent transactions never fail with
//!   `TransactionConflict`: they are serialised instead (DynamoDB Local does report conflicts);
//! - consumed capacity figures are dynoxide's own estimates, not DynamoDB's bill;
//! - no throttling, no provisioned-throughput limits (use [`FaultInjector`] to test those paths);
//! - the wire-level conformance record is public: <https://paritysuite.org>.
//!
//! The SDK clients built here carry fixed fake credentials and region `us-east-1`; any local engine
//! accepts them (none checks signatures).

mod counter;
mod engine;
mod faults;
mod fixtures;
mod http_faults;
mod prefixes;
#[cfg(test)]
mod tests;

pub use prefixes::assert_unique_prefixes;

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
/// process's embedded engine, started on first use (in about a millisecond; concurrent first calls
/// start one engine).
///
/// If the engine cannot be started (no loopback port, no thread), this returns
/// [`Error::TestKit`] with the reason, and keeps returning that error for the rest of the process.
pub async fn endpoint() -> Result<String, Error> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => return Ok(endpoint),
        Ok(_) | Err(VarError::NotPresent) => {}
        Err(VarError::NotUnicode(_)) => {
            return Err(Error::TestKit(format!("{ENDPOINT_VAR} is not valid UTF-8")))
        }
    }
    Ok(engine::started()?.endpoint.clone())
}

/// Whether [`endpoint`] is this process's embedded engine (`DYNAMODB_ENDPOINT` unset or empty),
/// for the few checks that only hold on one engine.
pub fn is_embedded() -> bool {
    !matches!(std::env::var_os(ENDPOINT_VAR), Some(v) if !v.is_empty())
}

/// An SDK config builder for [`endpoint`]: region `us-east-1`, fixed fake credentials, latest
/// behavior version. Nothing is read from the environment or AWS profiles, so tests behave the
/// same on every machine. Add interceptors, retry or timeout settings before `build()`.
///
/// The fake credentials only suit local engines (the embedded one, a dynoxide server, DynamoDB
/// Local, LocalStack); against real AWS build a client from your own configuration.
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
