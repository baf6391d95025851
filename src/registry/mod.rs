//! Tenants as records (feature `registry`): status, a typed configuration, a subdomain and
//! custom domains, tenant-scoped API keys, provisioning hooks, export and offboarding.
//!
//! Without a registry a tenant is only a validated string: nothing knows whether it exists or is
//! suspended. [`TenantRegistry`] keeps one [`TenantRecord`] per tenant in the application's own
//! table, as global items of this crate (prefixes `_tenant`, `_thost` and `_apikey`; they carry
//! no tenant, and application models cannot reach them). With feature `http` the
//! [`TenantLayer`](crate::http::TenantLayer) checks every request's tenant against it (see
//! `dynabao::http::RegistryGate`).
//!
//! ```no_run
//! use dynabao::registry::{NewTenant, TenantRegistry, TenantStatus};
//! use dynabao::tenant::TenantId;
//! use serde::{Deserialize, Serialize};
//!
//! /// What the service keeps per tenant.
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! struct Settings { currency: String, timezone: String, beta: bool }
//!
//! async fn onboard(db: &dynabao::Db) -> Result<(), dynabao::Error> {
//!     let registry = TenantRegistry::<Settings>::builder(db)
//!         .on_provision("seed", |tenant| async move {
//!             // runs inside the new tenant's scope: create its default data here
//!             let _ = tenant;
//!             Ok::<_, dynabao::Error>(())
//!         })
//!         .build()?;
//!     let acme = registry
//!         .provision(NewTenant::new("acme", "Acme Inc.").subdomain("acme"))
//!         .await?;
//!     assert_eq!(acme.status, TenantStatus::Active);
//!     registry.update_config(&acme.id, |c| c.currency = "EUR".into()).await?;
//!     let key = registry.issue_api_key(&acme.id, "ci").await?;
//!     assert_eq!(registry.tenant_of_api_key(key.secret()).await?, Some(acme.id.clone()));
//!     registry.set_status(&acme.id, TenantStatus::Suspended).await?;
//!     let id = TenantId::new("acme")?;
//!     registry.offboard(&id).await?;
//!     Ok(())
//! }
//! ```
//!
//! # The cache
//!
//! Lookups (`get`, `by_subdomain`, `by_domain`, `tenant_of_api_key`) go through an in-process
//! cache: a found record lives [`cache_ttl`](TenantRegistryBuilder::cache_ttl) (30 s by default),
//! "no such tenant" [`negative_ttl`](TenantRegistryBuilder::negative_ttl) (5 s), at most
//! [`cache_capacity`](TenantRegistryBuilder::cache_capacity) entries (10 000) with the oldest
//! evicted first, and however many requests miss one key at the same time, one read goes to
//! DynamoDB. Every change made through a registry invalidates what it changed in that registry's
//! cache at once, including reads in flight. **A change made by another process** (another
//! instance of the service) is seen here once the entry expires: at most `cache_ttl` late for a
//! change to an existing tenant (a suspension, a revoked API key), at most `negative_ttl` for a
//! tenant that did not exist before. Share one registry (it is cheap to clone) per process.
//!
//! # Status
//!
//! | status | meaning | the layer's answer |
//! |---|---|---|
//! | `pending` | provisioned, its steps not all done yet | `403 tenant_unavailable` |
//! | `active` | in service | the request runs |
//! | `suspended` | kept, but refused | `403 tenant_suspended` |
//! | `offboarding` | its data is being deleted | `403 tenant_unavailable` |
//!
//! [`TenantRegistry::set_status`] moves a tenant between `active` and `suspended`;
//! provisioning moves it from `pending` to `active`, [`TenantRegistry::offboard`] to
//! `offboarding` and then removes it.

mod api_keys;
mod cache;
mod checkpoint;
mod export;
mod hosts;
mod offboard;
mod provision;
mod stored;
mod update;
mod validate;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::error::{BoxError, Error};
use crate::ops::query::Page;
use crate::tenant::{Tenancy, TenantId};
use cache::{Cache, Limits};
use stored::{HostKind, Listing, TenantItem};

pub use api_keys::{ApiKeyInfo, IssuedApiKey};
pub use export::{ExportedItem, ExportedKind, TenantExport};
pub use offboard::{OffboardProgress, OffboardReport, Offboarding};
pub use update::TenantUpdate;

/// What a tenant's configuration must be: stored as a map attribute through serde, and
/// [`Default`] for a tenant provisioned without one. Implemented for every such type.
pub trait TenantConfig: Serialize + DeserializeOwned + Default + Send + Sync + 'static {}

impl<C: Serialize + DeserializeOwned + Default + Send + Sync + 'static> TenantConfig for C {}

/// Where a tenant is in its life. Serialized lowercase (`"active"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TenantStatus {
    /// Provisioned; its provisioning steps have not all succeeded yet.
    Pending,
    /// In service.
    Active,
    /// Kept, but refused at the edge.
    Suspended,
    /// Its data is being deleted; it is removed when that is done.
    Offboarding,
}

impl TenantStatus {
    /// The status as stored and serialized (`"active"`).
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Pending => "pending",
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Offboarding => "offboarding",
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant, as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TenantRecord<C> {
    /// The tenant's id: the one its data is keyed by.
    pub id: TenantId,
    /// Its display name.
    pub name: String,
    /// Where it is in its life.
    pub status: TenantStatus,
    /// The subdomain label that names it (`acme` of `acme.example.com`), unique across tenants.
    pub subdomain: Option<String>,
    /// Its custom domains, each unique across tenants.
    pub domains: Vec<String>,
    /// The application's configuration of the tenant.
    pub config: C,
    /// When it was provisioned.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; give it to [`TenantUpdate::if_version`] for optimistic updates.
    pub version: u64,
}

impl<C: TenantConfig> TenantRecord<C> {
    fn from_item(item: TenantItem) -> Result<Self, Error> {
        let malformed = |reason: String| Error::MalformedItem {
            model: validate::TENANT,
            reason,
        };
        Ok(TenantRecord {
            id: TenantId::new(&item.id)
                .map_err(|_| malformed("the stored tenant id is not valid".into()))?,
            name: item.name,
            status: item.status,
            subdomain: item.subdomain,
            domains: item.domains,
            config: serde_json::from_value(item.config)
                .map_err(|e| malformed(format!("the stored configuration does not decode: {e}")))?,
            created_at: item.created_at,
            updated_at: item.updated_at,
            version: item.version,
        })
    }

    /// The hosts this record claims, as cache keys.
    fn hosts(&self) -> Vec<Lookup> {
        self.subdomain
            .iter()
            .map(|s| Lookup::Subdomain(s.clone()))
            .chain(self.domains.iter().map(|d| Lookup::Domain(d.clone())))
            .collect()
    }
}

/// A tenant to provision: its id, display name, and optionally a subdomain and a
/// configuration (the default one otherwise).
#[derive(Debug, Clone)]
pub struct NewTenant<C> {
    id: String,
    name: String,
    subdomain: Option<String>,
    config: Option<C>,
}

impl<C> NewTenant<C> {
    /// A tenant with this id (validated by [`TenantRegistry::provision`]) and display name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        NewTenant {
            id: id.into(),
            name: name.into(),
            subdomain: None,
            config: None,
        }
    }

    /// Names the tenant by this subdomain label (`acme` for `acme.example.com`).
    pub fn subdomain(mut self, label: impl Into<String>) -> Self {
        self.subdomain = Some(label.into());
        self
    }

    /// Starts the tenant with this configuration instead of `C::default()`.
    pub fn config(mut self, config: C) -> Self {
        self.config = Some(config);
        self
    }
}

/// What the tenant cache is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lookup {
    Id(TenantId),
    Subdomain(String),
    Domain(String),
}

/// The future of a provisioning step.
pub type StepFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// A provisioning step: its name and what it runs.
struct Step<C> {
    name: String,
    run: Box<dyn Fn(Arc<TenantRecord<C>>) -> StepFuture + Send + Sync>,
}

/// A stored API key, as the key cache keeps it.
#[derive(Debug, Clone)]
struct KeyEntry {
    tenant: TenantId,
    digest: [u8; 32],
}

struct Inner<C> {
    db: Db,
    tenants: Cache<Lookup, Arc<TenantRecord<C>>>,
    keys: Cache<String, Arc<KeyEntry>>,
    steps: Vec<Step<C>>,
    key_prefix: String,
}

/// The registry of tenants: records, their hosts and API keys, in the `Db`'s table. Cheap to
/// clone (one cache, shared); see the [module docs](self) for the cache's rules.
///
/// `C` is the application's configuration type (`serde_json::Value` when it has none of its
/// own).
pub struct TenantRegistry<C = serde_json::Value> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for TenantRegistry<C> {
    fn clone(&self) -> Self {
        TenantRegistry {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for TenantRegistry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRegistry")
            .field("table", &self.inner.db.table())
            .field(
                "steps",
                &self.inner.steps.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Builds a [`TenantRegistry`]; from [`TenantRegistry::builder`].
pub struct TenantRegistryBuilder<C> {
    db: Db,
    limits: Limits,
    steps: Vec<Step<C>>,
    key_prefix: String,
}

impl<C> fmt::Debug for TenantRegistryBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRegistryBuilder")
            .field("limits", &self.limits)
            .field("steps", &self.steps.len())
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl<C: TenantConfig> TenantRegistryBuilder<C> {
    /// How long a found record or key is served from the cache (30 s by default): the longest
    /// another process's change to it goes unseen here.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.limits.ttl = ttl;
        self
    }

    /// How long "no such tenant" (or key, or host) is served from the cache (5 s by default),
    /// so a flood of unknown tenants does not reach DynamoDB for each request.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.limits.negative_ttl = ttl;
        self
    }

    /// The most entries each cache keeps (10 000 by default); the oldest go first.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.limits.capacity = entries;
        self
    }

    /// The recognisable start of every API key this registry issues (`dbk` by default, giving
    /// `dbk_<id>_<secret>`): 1 to 16 of `[a-z0-9]`, checked by [`build`](Self::build).
    pub fn api_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Adds a provisioning step, run after the steps added before it, inside the new tenant's
    /// scope (its dynabao operations use the new tenant). A tenant stays `pending` until every
    /// step has succeeded; a step that fails stops provisioning with
    /// [`Error::Provisioning`], and [`TenantRegistry::resume_provisioning`] (or provisioning
    /// the same tenant again) runs the steps that have not succeeded yet. Steps are recorded by
    /// `name` once done, so a step may run again only if the process died between its success
    /// and that record: make steps idempotent.
    pub fn on_provision<F, Fut, E>(mut self, name: impl Into<String>, step: F) -> Self
    where
        F: Fn(Arc<TenantRecord<C>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.steps.push(Step {
            name: name.into(),
            run: Box::new(move |tenant| {
                let fut = step(tenant);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
        });
        self
    }

    /// Checks the settings and builds the registry. [`Error::Config`] when the `Db` has
    /// tenancy off (a registry of tenants needs tenant-prefixed data), for an invalid API-key
    /// prefix, or for two steps of one name.
    pub fn build(self) -> Result<TenantRegistry<C>, Error> {
        if self.db.tenancy() == Tenancy::Off {
            return Err(Error::Config(
                "TenantRegistry: the Db has tenancy off; a registry needs tenant-prefixed data"
                    .into(),
            ));
        }
        if !(1..=16).contains(&self.key_prefix.len())
            || !self
                .key_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(Error::Config(
                "TenantRegistry: the API-key prefix is 1 to 16 of a-z and 0-9".into(),
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            if self.steps[..i].iter().any(|s| s.name == step.name) {
                return Err(Error::Config(format!(
                    "TenantRegistry: two provisioning steps are named {:?}",
                    step.name
                )));
            }
        }
        Ok(TenantRegistry {
            inner: Arc::new(Inner {
                db: self.db,
                tenants: Cache::new(self.limits),
                keys: Cache::new(self.limits),
                steps: self.steps,
                key_prefix: self.key_prefix,
            }),
        })
    }
}

impl<C: TenantConfig> TenantRegistry<C> {
    /// Starts a registry over `db`'s table.
    pub fn builder(db: &Db) -> TenantRegistryBuilder<C> {
        TenantRegistryBuilder {
            db: db.clone(),
            limits: Limits {
                ttl: Duration::from_secs(30),
                negative_ttl: Duration::from_secs(5),
                capacity: 10_000,
            },
            steps: Vec::new(),
            key_prefix: "dbk".into(),
        }
    }

    /// A registry over `db`'s table with the default settings and no provisioning steps.
    pub fn new(db: &Db) -> Result<Self, Error> {
        Self::builder(db).build()
    }

    /// The handle the registry uses.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The tenant's record, from the cache when it is there (see the [module docs](self)).
    pub async fn get(&self, id: &TenantId) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        self.inner
            .tenants
            .get_or_load(&Lookup::Id(id.clone()), || self.load(id.as_str()))
            .await
    }

    /// The tenant's record read from the table now, bypassing (and refreshing) the cache.
    pub async fn fetch(&self, id: &TenantId) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        self.inner.tenants.invalidate(&Lookup::Id(id.clone()));
        self.get(id).await
    }

    /// The tenant whose subdomain is `label` (`acme` of `acme.example.com`), cached.
    pub async fn by_subdomain(&self, label: &str) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        let label = label.to_ascii_lowercase();
        if !validate::label(&label) {
            return Ok(None);
        }
        self.inner
            .tenants
            .get_or_load(&Lookup::Subdomain(label.clone()), || {
                self.load_host(HostKind::Subdomain, label.clone())
            })
            .await
    }

    /// The tenant that has claimed custom domain `host` (lowercased, without port), cached.
    pub async fn by_domain(&self, host: &str) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if validate::domain(&host).is_err() {
            return Ok(None);
        }
        self.inner
            .tenants
            .get_or_load(&Lookup::Domain(host.clone()), || {
                self.load_host(HostKind::Domain, host.clone())
            })
            .await
    }

    /// A page of tenants, in id order: at most `limit`, after the one `cursor` (from the
    /// previous page's [`Page::cursor`]) points at. Read from the table, not the cache.
    pub async fn list(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<TenantRecord<C>>, Error> {
        let page = TenantItem::query_by_listing(&self.inner.db, &Listing::Tenant)
            .limit(limit.clamp(1, 1000))
            .cursor_opt(cursor)
            .send()
            .await?;
        let cursor = page.cursor().map(str::to_owned);
        let items = page
            .items
            .into_iter()
            .map(TenantRecord::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::new(items, cursor))
    }

    /// Forgets what the cache holds about tenant `id` (its record, its hosts), so the next
    /// lookup reads the table: for a service that learns of another process's change (from a
    /// stream or a message) before the cache would expire it.
    pub fn invalidate(&self, id: &TenantId) {
        self.forget(id, &[]);
    }

    /// Drops every cache entry about `id`, and the entries of `hosts` (negative ones included).
    fn forget(&self, id: &TenantId, hosts: &[Lookup]) {
        self.inner.tenants.invalidate_where(|key, value| {
            matches!(key, Lookup::Id(i) if i == id)
                || value.is_some_and(|r| &r.id == id)
                || hosts.contains(key)
        });
    }

    /// Reads a record from the table.
    async fn load(&self, id: &str) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        match TenantItem::find(&self.inner.db, id).consistent().await? {
            Some(item) => Ok(Some(Arc::new(TenantRecord::from_item(item)?))),
            None => Ok(None),
        }
    }

    /// Reads the record of the tenant holding a host claim, when the record still names it.
    async fn load_host(
        &self,
        kind: HostKind,
        host: String,
    ) -> Result<Option<Arc<TenantRecord<C>>>, Error> {
        let Some(claim) = stored::HostItem::find(&self.inner.db, &kind, host.as_str())
            .consistent()
            .await?
        else {
            return Ok(None);
        };
        let Some(record) = self.load(&claim.tenant).await? else {
            return Ok(None);
        };
        let names = match kind {
            HostKind::Subdomain => record.subdomain.as_deref() == Some(host.as_str()),
            HostKind::Domain => record.domains.iter().any(|d| d == &host),
        };
        Ok(names.then_some(record))
    }

    /// The current record, read consistently: `NotFound` when there is none.
    async fn current(&self, id: &TenantId) -> Result<TenantItem, Error> {
        TenantItem::find(&self.inner.db, id.as_str())
            .consistent()
            .await?
            .ok_or(Error::NotFound {
                model: validate::TENANT,
            })
    }
}

/// The current request's tenant record, put in the request extensions by the registry's gate
/// (`dynabao::http::RegistryGate`) from the lookup it made anyway, so a handler reads the
/// record and its configuration without another lookup. With feature `axum` it is an
/// extractor.
#[derive(Debug)]
pub struct CurrentTenant<C>(pub Arc<TenantRecord<C>>);

impl<C> Clone for CurrentTenant<C> {
    fn clone(&self) -> Self {
        CurrentTenant(self.0.clone())
    }
}

impl<C> std::ops::Deref for CurrentTenant<C> {
    type Target = TenantRecord<C>;

    fn deref(&self) -> &TenantRecord<C> {
        &self.0
    }
}
