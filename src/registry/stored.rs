//! The items the registry stores: global models of this crate, in the application's table.
//!
//! Their prefixes start with `_`, which no application model needs, so they cannot meet an
//! application's keyspace by accident (the link-time check would report it if they did).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TenantStatus;
use crate::set::StringSet;

/// The one partition of the listing index: every tenant record is in it, sorted by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, crate::KeyPart)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Listing {
    Tenant,
}

/// A tenant's record.
#[derive(Debug, Clone, Serialize, Deserialize, crate::Model)]
#[bao(prefix = "_tenant")]
#[bao(global)]
#[bao(index(by_listing(gsi = 1, pk = "listing", sk = "id")))]
pub(crate) struct TenantItem {
    #[bao(pk)]
    pub(crate) id: String,
    pub(crate) listing: Listing,
    pub(crate) name: String,
    pub(crate) status: TenantStatus,
    pub(crate) subdomain: Option<String>,
    pub(crate) domains: Vec<String>,
    /// The application's configuration, as JSON (so partial updates can merge into it).
    pub(crate) config: serde_json::Value,
    /// The provisioning steps that have succeeded.
    pub(crate) steps_done: StringSet,
    /// Where an interrupted offboarding resumes (a sealed checkpoint).
    pub(crate) offboard_checkpoint: Option<String>,
    /// Items deleted by the offboarding so far.
    pub(crate) offboard_deleted: u64,
    #[bao(created_at)]
    pub(crate) created_at: DateTime<Utc>,
    #[bao(updated_at)]
    pub(crate) updated_at: DateTime<Utc>,
    #[bao(version)]
    pub(crate) version: u64,
}

/// What kind of host a [`HostItem`] claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, crate::KeyPart)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HostKind {
    Subdomain,
    Domain,
}

/// The claim of a subdomain or custom domain by one tenant: its key makes it unique.
#[derive(Debug, Clone, Serialize, Deserialize, crate::Model)]
#[bao(prefix = "_thost")]
#[bao(global)]
#[bao(pk = ["kind", "host"])]
pub(crate) struct HostItem {
    pub(crate) kind: HostKind,
    pub(crate) host: String,
    pub(crate) tenant: String,
}

/// A tenant-scoped API key: its public id, and a hash of the whole key.
#[derive(Debug, Clone, Serialize, Deserialize, crate::Model)]
#[bao(prefix = "_apikey")]
#[bao(global)]
#[bao(index(by_tenant(gsi = 1, pk = "tenant", sk = "id")))]
pub(crate) struct ApiKeyItem {
    /// The key's public prefix (`dbk_01j...`).
    #[bao(pk)]
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) name: String,
    /// SHA-256 of the whole key, hex.
    pub(crate) hash: String,
    #[bao(created_at)]
    pub(crate) created_at: DateTime<Utc>,
}
