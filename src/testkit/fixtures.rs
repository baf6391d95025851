//! Ready-made handles for tests: a fresh table, a fresh tenant.

use std::time::Duration;

use crate::db::Db;
use crate::error::Error;
use crate::retry::Timeouts;
use crate::tenant::Tenancy;
use crate::tenant::TenantId;

use super::{
    sdk_client, sdk_client_with, sdk_config, unique_name, FaultInjector, HttpFaults, RequestCounter,
};

/// The timeouts of the fixtures' handles: 60 s per attempt, 5 minutes per request. A local
/// engine serving a whole parallel test suite on a small machine can take seconds to answer,
/// and the library's defaults (5 s, 20 s) are meant for DynamoDB itself. Tests of timeouts set
/// their own with [`Db::with_timeouts`].
pub fn test_timeouts() -> Timeouts {
    Timeouts::new()
        .with_attempt(Duration::from_secs(60))
        .with_operation(Duration::from_secs(300))
}

/// A [`Db`] on a new, empty, active table of its own (tenancy on). Tables are cheap on a
/// local engine; a test that owns its table can scan it raw without seeing other tests' items.
pub async fn fresh_db() -> Result<Db, Error> {
    fresh_db_with(Tenancy::On).await
}

/// Like [`fresh_db`], with the given tenancy mode.
pub async fn fresh_db_with(tenancy: Tenancy) -> Result<Db, Error> {
    let db =
        Db::new(sdk_client().await?, unique_name("t-"), tenancy).with_timeouts(test_timeouts());
    db.create_table().await?;
    Ok(db)
}

/// Like [`fresh_db`], with `counter` counting every request the handle sends.
pub async fn fresh_db_counted(counter: &RequestCounter) -> Result<Db, Error> {
    let db = Db::new(
        sdk_client_with(counter).await?,
        unique_name("t-"),
        Tenancy::On,
    )
    .with_timeouts(test_timeouts());
    db.create_table().await?;
    Ok(db)
}

/// Like [`fresh_db_counted`], with `faults` injected into every request and the SDK's own
/// retries turned off, so that every retry the test sees (and `counter` counts) is dynabao's.
pub async fn fresh_db_with_faults(
    faults: &FaultInjector,
    counter: &RequestCounter,
) -> Result<Db, Error> {
    let config = sdk_config()
        .await?
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
    let client = aws_sdk_dynamodb::Client::from_conf(counter.attach(faults.attach(config)).build());
    let db = Db::new(client, unique_name("t-"), Tenancy::On).with_timeouts(test_timeouts());
    db.create_table().await?;
    Ok(db)
}

/// Like [`fresh_db_with_faults`], with `http` also injecting faults at the HTTP layer (lost
/// answers, 500s, hung requests, latency; see [`HttpFaults`]). The table is created before
/// any fault can hit it.
pub async fn fresh_db_with_http_faults(
    http: &HttpFaults,
    faults: &FaultInjector,
    counter: &RequestCounter,
) -> Result<Db, Error> {
    let config = sdk_config()
        .await?
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
    let config = http.attach(counter.attach(faults.attach(config)));
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    let db = Db::new(client, unique_name("t-"), Tenancy::On).with_timeouts(test_timeouts());
    db.create_table().await?;
    Ok(db)
}

/// A tenant id no other test uses (a fresh ULID), so tests sharing a table cannot see each
/// other's items.
pub fn fresh_tenant() -> TenantId {
    TenantId::from(ulid::Ulid::new())
}
