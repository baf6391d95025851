//! Offboarding: the tenant set `offboarding`, every item it owns deleted in batches that lose
//! nothing, a final count of zero, then its record, hosts and API keys removed. Resumable: the
//! export's checkpoint is kept on the record after every page, so a process that dies resumes
//! where the last one stopped.

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};

use super::export::TenantExport;
use super::stored::{ApiKeyItem, HostItem, HostKind, TenantItem};
use super::{validate, TenantConfig, TenantRecord, TenantRegistry, TenantStatus};
use crate::batch::{write_raw, DEFAULT_CONCURRENCY};
use crate::db::Db;
use crate::error::{Error, Unprocessed, UnprocessedRequest, UnprocessedState};
use crate::key::{KeyScope, StoredKey};
use crate::tenant::TenantId;

/// How many fresh passes the final check makes before it gives up on a tenant whose items keep
/// appearing (something still writes to it).
const VERIFY_PASSES: u32 = 3;
/// The span's model name for offboarding writes.
const OFFBOARD: &str = "offboard";

/// What an offboarding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffboardReport {
    /// Items of the tenant deleted, over every run of the offboarding (a delete whose outcome
    /// was unknown, then found done, is not counted).
    pub deleted: u64,
    /// API keys removed.
    pub api_keys: u64,
    /// Subdomain and domain claims released.
    pub hosts: u64,
}

/// A running offboarding, from [`TenantRegistry::offboarding`]: [`step`](Offboarding::step)
/// deletes one page of the tenant's items (for a job with a deadline, such as a Lambda
/// function, that stops between pages), [`run`](Offboarding::run) steps to the end.
///
/// After every page the export's checkpoint and the count deleted so far are stored on the
/// tenant's record, so an offboarding started again (in any process) resumes there. One
/// resumed with other export settings, whose checkpoint does not fit, walks again from the
/// start instead; either way nothing is deleted twice and nothing is missed, since a final
/// walk from the start must find nothing before the tenant itself is removed.
pub struct Offboarding<'r, C> {
    registry: &'r TenantRegistry<C>,
    id: TenantId,
    export: TenantExport,
    deleted: u64,
    /// The export was resumed from the record's checkpoint (not yet read from).
    resumed: bool,
}

impl<C> std::fmt::Debug for Offboarding<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offboarding")
            .field("tenant", &self.id)
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

/// What a [`step`](Offboarding::step) left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffboardProgress {
    /// More pages to delete.
    More {
        /// Items deleted so far.
        deleted: u64,
    },
    /// Everything is gone, record included.
    Done(OffboardReport),
}

impl<C: TenantConfig> TenantRegistry<C> {
    /// An export of every item tenant `id` owns; see [`TenantExport`].
    pub fn export(&self, id: &TenantId) -> TenantExport {
        TenantExport::new(&self.inner.db, id)
    }

    /// Deletes everything tenant `id` owns and then the tenant itself; see [`Offboarding`].
    /// Resumes an offboarding that an earlier process started. [`Error::NotFound`] for an
    /// unknown tenant (one already removed included).
    pub async fn offboard(&self, id: &TenantId) -> Result<OffboardReport, Error> {
        self.offboarding(id).await?.run().await
    }

    /// Sets tenant `id` `offboarding` (requests for it are refused from now on) and returns the
    /// offboarding, resumed from its stored checkpoint when an earlier one was interrupted.
    pub async fn offboarding(&self, id: &TenantId) -> Result<Offboarding<'_, C>, Error> {
        self.offboarding_with(id, |e| e).await
    }

    /// [`offboarding`](Self::offboarding), with the export it walks adjusted (`|e|
    /// e.segments(8).max_requests_per_second(50)`). Give the same settings when resuming: a
    /// checkpoint only fits the export it came from.
    pub async fn offboarding_with(
        &self,
        id: &TenantId,
        adjust: impl FnOnce(TenantExport) -> TenantExport,
    ) -> Result<Offboarding<'_, C>, Error> {
        let db = &self.inner.db;
        let mut item = self.current(id).await?;
        if item.status != TenantStatus::Offboarding {
            // Unconditional but for existence: whatever changed meanwhile, the tenant goes.
            item = TenantItem::update(db, id.as_str())
                .set(TenantItem::STATUS, TenantStatus::Offboarding)
                .await?;
            self.forget(id, &[]);
            tracing::info!(tenant = %id, "dynabao: offboarding started");
        }
        let mut export = adjust(self.export(id));
        let resumed = item.offboard_checkpoint.is_some();
        if let Some(checkpoint) = item.offboard_checkpoint.clone() {
            export = export.resume(checkpoint);
        }
        Ok(Offboarding {
            registry: self,
            id: id.clone(),
            export,
            deleted: item.offboard_deleted,
            resumed,
        })
    }
}

impl<C: TenantConfig> Offboarding<'_, C> {
    /// Deletes the next page of the tenant's items and records where the next step starts; at
    /// the end, checks that nothing is left and removes the tenant. An error leaves everything
    /// as it was after the last step that succeeded (a failed page is deleted again, which
    /// deletes nothing twice).
    pub async fn step(&mut self) -> Result<OffboardProgress, Error> {
        let db = self.registry.inner.db.clone();
        let scope = KeyScope::Tenant(self.id.clone());
        let page = match self.export.next_page().await {
            // The stored checkpoint is of an export with other settings (or its key was
            // rotated out): walk again from the start, which deletes nothing twice.
            Err(Error::InvalidCursor { reason }) if self.resumed => {
                tracing::warn!(tenant = %self.id, reason, "dynabao: offboarding restarts its walk");
                self.export = self.export.restart();
                self.export.next_page().await?
            }
            other => other?,
        };
        self.resumed = false;
        if let Some(page) = page {
            let keys: Vec<StoredKey> = page.into_iter().map(|i| i.stored).collect();
            let (n, failed) = delete_all(&db, &scope, keys).await;
            self.deleted += n;
            if let Some(e) = failed {
                // Keep the count of what this page did delete; the page is read again.
                TenantItem::update(&db, self.id.as_str())
                    .set(TenantItem::OFFBOARD_DELETED, self.deleted)
                    .await?;
                return Err(e);
            }
            let checkpoint = self.export.checkpoint()?;
            TenantItem::update(&db, self.id.as_str())
                .set(TenantItem::OFFBOARD_CHECKPOINT, Some(checkpoint))
                .set(TenantItem::OFFBOARD_DELETED, self.deleted)
                .await?;
            return Ok(OffboardProgress::More {
                deleted: self.deleted,
            });
        }
        // The walk is done: count from the start; whatever is found (written while the walk
        // went on) is deleted and counted again.
        let mut passes = 0;
        loop {
            let mut fresh = self.export.restart();
            let mut found = Vec::new();
            while let Some(page) = fresh.next_page().await? {
                found.extend(page.into_iter().map(|i| i.stored));
            }
            if found.is_empty() {
                break;
            }
            passes += 1;
            if passes > VERIFY_PASSES {
                return Err(Error::Contention {
                    model: validate::TENANT,
                    attempts: VERIFY_PASSES,
                });
            }
            let (n, failed) = delete_all(&db, &scope, found).await;
            self.deleted += n;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        let report = self.remove_tenant().await?;
        tracing::info!(tenant = %self.id, deleted = report.deleted, "dynabao: tenant offboarded");
        Ok(OffboardProgress::Done(report))
    }

    /// Steps until the tenant is gone.
    pub async fn run(mut self) -> Result<OffboardReport, Error> {
        loop {
            if let OffboardProgress::Done(report) = self.step().await? {
                return Ok(report);
            }
        }
    }

    /// Removes the API keys, the host claims and the record.
    async fn remove_tenant(&self) -> Result<OffboardReport, Error> {
        let registry = self.registry;
        let db = &registry.inner.db;
        let item = registry.current(&self.id).await?;
        let keys = ApiKeyItem::query_by_tenant(db, self.id.as_str())
            .all()
            .await?;
        let mut hosts: Vec<(HostKind, String)> = item
            .subdomain
            .iter()
            .map(|s| (HostKind::Subdomain, s.clone()))
            .collect();
        hosts.extend(item.domains.iter().map(|d| (HostKind::Domain, d.clone())));
        let mut batch = db.batch_write();
        for k in &keys {
            batch = batch.delete(ApiKeyItem::key(k.id.as_str()));
        }
        for (kind, host) in &hosts {
            batch = batch.delete(HostItem::key(kind, host.as_str()));
        }
        batch.await?;
        for k in &keys {
            registry.inner.keys.invalidate(&k.id);
        }
        TenantItem::delete(db, self.id.as_str()).await?;
        let record = TenantRecord::<C>::from_item(item)?;
        registry.forget(&self.id, &record.hosts());
        registry
            .inner
            .keys
            .invalidate_where(|_, entry| entry.is_some_and(|e| e.tenant == self.id));
        Ok(OffboardReport {
            deleted: self.deleted,
            api_keys: keys.len() as u64,
            hosts: hosts.len() as u64,
        })
    }
}

/// Deletes `keys` with BatchWriteItem, unprocessed ones resent: how many were certainly
/// deleted, and [`Error::BatchIncomplete`] naming the rest when not all were.
async fn delete_all(db: &Db, scope: &KeyScope, keys: Vec<StoredKey>) -> (u64, Option<Error>) {
    let mut keys = keys;
    keys.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    keys.dedup();
    if keys.is_empty() {
        return (0, None);
    }
    let mut requests = Vec::with_capacity(keys.len());
    for k in &keys {
        match DeleteRequest::builder().set_key(Some(k.to_item())).build() {
            Ok(d) => requests.push(WriteRequest::builder().delete_request(d).build()),
            Err(e) => return (0, Some(Error::invalid_request(OFFBOARD, e.to_string()))),
        }
    }
    let raw = write_raw(db, scope, OFFBOARD, requests, DEFAULT_CONCURRENCY).await;
    let deleted = (keys.len() - raw.unprocessed.len()) as u64;
    if raw.unprocessed.is_empty() && raw.error.is_none() {
        return (deleted, None);
    }
    let stopped = raw.error.is_some();
    let unprocessed = raw
        .unprocessed
        .iter()
        .filter_map(|&i| {
            let key = keys.get(i)?;
            Some(Unprocessed {
                position: i,
                model: OFFBOARD,
                request: UnprocessedRequest::Delete { key: key.to_item() },
                state: if raw.unknown.contains(&i) {
                    UnprocessedState::OutcomeUnknown
                } else if stopped {
                    UnprocessedState::NotApplied
                } else {
                    UnprocessedState::ReturnedUnprocessed
                },
            })
        })
        .collect();
    let error = Error::BatchIncomplete {
        operation: "BatchWriteItem",
        unprocessed,
        source: raw.error.map(Box::new),
    };
    (deleted, Some(error))
}
impl<C> Offboarding<'_, C> {
    /// The tenant being offboarded.
    pub fn tenant(&self) -> &TenantId {
        &self.id
    }
}
