//! The database handle and its configuration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::Client;

use crate::cursor::CursorKey;
use crate::error::Error;
use crate::key::KeyScope;
use crate::model::{Model, Schema};
use crate::retry::{RetryPolicy, Timeouts};
use crate::tenant::{Tenancy, TenantContext};

/// How to reach the table.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single table's name.
    pub table: String,
    /// An endpoint override (DynamoDB Local, LocalStack); `None` uses AWS.
    pub endpoint: Option<String>,
    /// The AWS region; `None` uses the SDK's default chain.
    pub region: Option<String>,
    /// Whether keys carry a tenant.
    pub tenancy: Tenancy,
    /// The secret pagination cursors are signed with; `None` uses the development key.
    pub cursor_key: Option<CursorKey>,
    /// How throttled and failed requests and unprocessed batch items are retried.
    pub retry: RetryPolicy,
    /// How long a request may wait for DynamoDB, per attempt and in all.
    pub timeouts: Timeouts,
}

impl Config {
    /// A configuration for `table` on AWS, tenancy on.
    pub fn new(table: impl Into<String>) -> Self {
        Config {
            table: table.into(),
            endpoint: None,
            region: None,
            tenancy: Tenancy::On,
            cursor_key: None,
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// Reads the configuration from the environment:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `DYNABAO_TABLE` | table name | required |
    /// | `DYNAMODB_ENDPOINT` | endpoint override | AWS |
    /// | `AWS_REGION` | region | the SDK's chain |
    /// | `DYNABAO_TENANCY` | `on` or `off` | `on` |
    /// | `DYNABAO_CURSOR_KEY` | secret for signing cursors (at least 32 bytes) | development key |
    /// | `DYNABAO_ATTEMPT_TIMEOUT_MS` | [per-attempt timeout](Timeouts::attempt), milliseconds | 5000 |
    /// | `DYNABAO_OPERATION_TIMEOUT_MS` | [per-operation timeout](Timeouts::operation), milliseconds | 20000 |
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any variable source (a map in tests, a secrets store).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let table =
            var("DYNABAO_TABLE").ok_or_else(|| Error::Config("DYNABAO_TABLE is not set".into()))?;
        check_table_name(&table)?;
        let tenancy = match var("DYNABAO_TENANCY").as_deref() {
            None | Some("on") => Tenancy::On,
            Some("off") => Tenancy::Off,
            Some(other) => {
                return Err(Error::Config(format!(
                    "DYNABAO_TENANCY must be `on` or `off`, not {other:?}"
                )))
            }
        };
        let cursor_key = match var("DYNABAO_CURSOR_KEY") {
            Some(k) if k.len() < 32 => {
                return Err(Error::Config(
                    "DYNABAO_CURSOR_KEY must be at least 32 bytes".into(),
                ))
            }
            k => k.map(CursorKey::new).transpose()?,
        };
        let millis = |name: &str| -> Result<Option<std::time::Duration>, Error> {
            match var(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(ms) if ms > 0 => Ok(Some(std::time::Duration::from_millis(ms))),
                    _ => Err(Error::Config(format!(
                        "{name} must be a whole number of milliseconds above 0, not {v:?}"
                    ))),
                },
            }
        };
        let mut timeouts = Timeouts::default();
        if let Some(t) = millis("DYNABAO_ATTEMPT_TIMEOUT_MS")? {
            timeouts = timeouts.with_attempt(t);
        }
        if let Some(t) = millis("DYNABAO_OPERATION_TIMEOUT_MS")? {
            timeouts = timeouts.with_operation(t);
        }
        Ok(Config {
            table,
            endpoint: var("DYNAMODB_ENDPOINT"),
            region: var("AWS_REGION"),
            tenancy,
            cursor_key,
            retry: RetryPolicy::default(),
            timeouts,
        })
    }

    /// Sets the endpoint override.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets whether keys carry a tenant.
    pub fn tenancy(mut self, tenancy: Tenancy) -> Self {
        self.tenancy = tenancy;
        self
    }

    /// Sets the secret pagination cursors are signed with.
    pub fn cursor_key(mut self, key: CursorKey) -> Self {
        self.cursor_key = Some(key);
        self
    }

    /// Sets how requests and unprocessed batch items are retried (see [`RetryPolicy`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how long a request may wait for DynamoDB (see [`Timeouts`]).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
}

/// The handle every operation takes: an SDK client, the table name and the tenancy mode.
///
/// Cheap to clone; build it once (outside a Lambda handler) and share it.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    client: Client,
    table: String,
    tenancy: Tenancy,
    cursor_key: CursorKey,
    retry: RetryPolicy,
    timeouts: Timeouts,
    /// Identifies (client, table) for the loader's batches and cache; handles derived with
    /// `with_retry` or `with_cursor_key` share it, since they reach the same data.
    id: u64,
}

/// Hands out [`Inner::id`]s.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("table", &self.inner.table)
            .field("tenancy", &self.inner.tenancy)
            .field("retry", &self.inner.retry)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Wraps an SDK client you configured yourself, with the default [`RetryPolicy`].
    ///
    /// The client keeps its own retry configuration, and its retries multiply with dynabao's;
    /// see [`retry`](crate::retry#the-sdks-own-retries) for how to keep one layer.
    pub fn new(client: Client, table: impl Into<String>, tenancy: Tenancy) -> Self {
        Db {
            inner: Arc::new(Inner {
                client,
                table: table.into(),
                tenancy,
                cursor_key: CursorKey::development(),
                retry: RetryPolicy::default(),
                timeouts: Timeouts::default(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            }),
        }
    }

    /// The same client and table with another retry policy.
    pub fn with_retry(&self, retry: RetryPolicy) -> Db {
        self.derive(|inner| inner.retry = retry)
    }

    /// The same client and table with other timeouts (see [`Timeouts`]).
    pub fn with_timeouts(&self, timeouts: Timeouts) -> Db {
        self.derive(|inner| inner.timeouts = timeouts)
    }

    /// A copy of this handle with one setting changed; it reaches the same data, so it keeps
    /// the handle's identity.
    fn derive(&self, change: impl FnOnce(&mut Inner)) -> Db {
        let mut inner = Inner::clone(&self.inner);
        change(&mut inner);
        Db {
            inner: Arc::new(inner),
        }
    }

    /// The retry policy of this handle.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// The timeouts of this handle.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// Identifies the (client, table) pair, for the loader.
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// Builds a client from the SDK's default configuration chain plus `config`.
    ///
    /// The SDK's own retries are turned off: `config.retry` is the one retry budget (see
    /// [`retry`](crate::retry#the-sdks-own-retries)); `config.timeouts` bound every request
    /// (see [`retry`](crate::retry#time-bounds)).
    ///
    /// With an endpoint on loopback (DynamoDB Local) and no AWS credentials in the environment,
    /// fixed dummy credentials are used, since DynamoDB Local accepts any.
    ///
    /// Fails with [`Error::DuplicatePrefix`] before anything else when two models of the program
    /// share a keyspace under `config.tenancy` (see [`crate::model::registry`]).
    pub async fn connect(config: Config) -> Result<Self, Error> {
        crate::model::registry::check_prefixes(config.tenancy)?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
            if is_loopback(endpoint) && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                // DynamoDB Local accepts access keys of letters and digits only.
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "dynabaolocal",
                    "dynabaolocal",
                    None,
                    None,
                    "dynabao-local",
                ));
            }
            if config.region.is_none() && std::env::var_os("AWS_REGION").is_none() {
                loader = loader.region(aws_config::Region::new("us-east-1"));
            }
        }
        let sdk = loader.load().await;
        let db = Db::new(Client::new(&sdk), config.table, config.tenancy)
            .with_retry(config.retry)
            .with_timeouts(config.timeouts);
        Ok(match config.cursor_key {
            Some(key) => db.with_cursor_key(key),
            None => {
                // Warns now, and marks the key so its first cursor does not warn again.
                db.cursor_key().warn_if_development();
                db
            }
        })
    }

    /// The SDK client, for what dynabao does not cover. Requests sent through it bypass the
    /// tenant checks.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The tenancy mode.
    pub fn tenancy(&self) -> Tenancy {
        self.inner.tenancy
    }

    /// A handle to another table with the same client, tenancy, cursor key and retry policy.
    pub fn with_table(&self, table: impl Into<String>) -> Db {
        Db::new(self.inner.client.clone(), table, self.inner.tenancy)
            .with_cursor_key(self.inner.cursor_key.clone())
            .with_retry(self.inner.retry)
            .with_timeouts(self.inner.timeouts)
    }

    /// The same handle with cursors signed by `key` (see [`CursorKey`]).
    pub fn with_cursor_key(&self, key: CursorKey) -> Db {
        self.derive(|inner| inner.cursor_key = key)
    }

    /// The key pagination cursors are signed with.
    pub fn cursor_key(&self) -> &CursorKey {
        &self.inner.cursor_key
    }

    /// The key scope for `M` now: global for `#[bao(global)]` models and when tenancy is off,
    /// otherwise the current tenant, or [`Error::TenantRequired`] ([invariant 2](crate#invariants)).
    pub async fn scope_for<M: Model>(&self) -> Result<KeyScope, Error> {
        self.scope_for_schema(M::SCHEMA).await
    }

    /// [`scope_for`](Db::scope_for) by schema, for code that holds models of several types.
    pub(crate) async fn scope_for_schema(&self, schema: &Schema) -> Result<KeyScope, Error> {
        if schema.global || self.inner.tenancy == Tenancy::Off {
            return Ok(KeyScope::Global);
        }
        Ok(KeyScope::Tenant(TenantContext::resolve().await?))
    }
}

fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    rest.starts_with("localhost") || rest.starts_with("127.") || rest.starts_with("[::1]")
}

/// Refuses a table name DynamoDB would refuse (3 to 255 characters of `[A-Za-z0-9_.-]`), so a
/// typo in the configuration fails at start-up, not on the first request.
fn check_table_name(table: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if (3..=255).contains(&table.len()) && table.chars().all(allowed) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "DYNABAO_TABLE {table:?} is not a DynamoDB table name: 3 to 255 characters of \
             letters, digits, `_`, `-` and `.`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_table_name_dynamodb_refuses_is_a_config_error() {
        for bad in ["ab", "my table", "app/prod", "ünï", &"t".repeat(256)] {
            match config(&[("DYNABAO_TABLE", bad)]) {
                Err(Error::Config(reason)) => assert!(reason.contains("DYNABAO_TABLE"), "{reason}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        for good in ["app", "my-app_2.prod", &"t".repeat(255)] {
            assert_eq!(config(&[("DYNABAO_TABLE", good)]).unwrap().table, good);
        }
    }

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            ("DYNABAO_TABLE", "app"),
            ("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"),
            ("AWS_REGION", "eu-west-1"),
            ("DYNABAO_TENANCY", "off"),
        ])
        .unwrap();
        assert_eq!(c.table, "app");
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:8000"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.tenancy, Tenancy::Off);
    }

    #[test]
    fn tenancy_defaults_on_and_empty_means_unset() {
        let c = config(&[("DYNABAO_TABLE", "app"), ("DYNAMODB_ENDPOINT", "")]).unwrap();
        assert_eq!(c.tenancy, Tenancy::On);
        assert_eq!(c.endpoint, None);
    }

    #[test]
    fn missing_table_and_bad_tenancy_are_config_errors() {
        assert!(matches!(config(&[]), Err(Error::Config(_))));
        let err = config(&[("DYNABAO_TABLE", "app"), ("DYNABAO_TENANCY", "maybe")]).unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains("maybe")));
    }

    #[test]
    fn cursor_key_is_read_and_must_be_long_enough() {
        let key = "k".repeat(32);
        let c = config(&[("DYNABAO_TABLE", "app"), ("DYNABAO_CURSOR_KEY", &key)]).unwrap();
        assert!(c.cursor_key.is_some_and(|k| !k.is_development()));
        let err = config(&[("DYNABAO_TABLE", "app"), ("DYNABAO_CURSOR_KEY", "short")]).unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains("DYNABAO_CURSOR_KEY")));
    }

    #[test]
    fn timeouts_are_read_and_checked() {
        use std::time::Duration;
        let c = config(&[
            ("DYNABAO_TABLE", "app"),
            ("DYNABAO_ATTEMPT_TIMEOUT_MS", "750"),
            ("DYNABAO_OPERATION_TIMEOUT_MS", "3000"),
        ])
        .unwrap();
        assert_eq!(c.timeouts.attempt(), Duration::from_millis(750));
        assert_eq!(c.timeouts.operation(), Duration::from_secs(3));
        assert_eq!(
            config(&[("DYNABAO_TABLE", "app")]).unwrap().timeouts,
            Timeouts::default()
        );
        for bad in ["0", "-5", "soon", "1.5"] {
            let err = config(&[
                ("DYNABAO_TABLE", "app"),
                ("DYNABAO_ATTEMPT_TIMEOUT_MS", bad),
            ])
            .unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.contains("DYNABAO_ATTEMPT_TIMEOUT_MS")),
                "{bad}: {err}"
            );
        }
        let db = Db::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .build(),
            ),
            "t",
            Tenancy::On,
        );
        let t = Timeouts::new().with_attempt(Duration::from_millis(9));
        let db = db.with_timeouts(t);
        assert_eq!(db.timeouts(), t);
        assert_eq!(db.with_retry(RetryPolicy::none()).timeouts(), t);
        assert_eq!(db.with_table("other").timeouts(), t);
    }

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8000"));
        assert!(is_loopback("http://localhost:4566"));
        assert!(is_loopback("http://[::1]:8000"));
        assert!(!is_loopback("https://dynamodb.eu-west-1.amazonaws.com"));
    }
}
