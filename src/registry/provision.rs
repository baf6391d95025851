//! Provisioning: the record and its subdomain claim in one transaction, then the application's
//! steps inside the new tenant's scope, then `active`.

use std::sync::Arc;

use super::stored::{HostItem, HostKind, Listing, TenantItem};
use super::{
    validate, Lookup, NewTenant, TenantConfig, TenantRecord, TenantRegistry, TenantStatus,
};
use crate::error::Error;
use crate::set::StringSet;
use crate::tenant::{TenantContext, TenantId};

/// Positions of the provisioning transaction's items.
const RECORD: usize = 0;
const SUBDOMAIN: usize = 1;

impl<C: TenantConfig> TenantRegistry<C> {
    /// Provisions a tenant: validates the id ([`Error::InvalidTenantId`]), the name and the
    /// subdomain ([`Error::InvalidInput`]), stores the record `pending` with its
    /// configuration (or `C::default()`) and claims the subdomain in one transaction, runs the
    /// [provisioning steps](super::TenantRegistryBuilder::on_provision) in the new tenant's
    /// scope, and sets it `active`.
    ///
    /// Idempotent: provisioning a tenant that exists with the same name and subdomain resumes
    /// it (running the steps not yet done) and returns its record. A different tenant under
    /// the same id is [`Error::AlreadyExists`]; a subdomain another tenant holds is
    /// [`Error::UniqueViolation`] (constraint `subdomain`), with nothing stored. A failed step is
    /// [`Error::Provisioning`] and leaves the tenant `pending`.
    pub async fn provision(&self, new: NewTenant<C>) -> Result<Arc<TenantRecord<C>>, Error> {
        let id = TenantId::new(&new.id)?;
        validate::name(&new.name)?;
        if let Some(s) = &new.subdomain {
            validate::subdomain(s)?;
        }
        let config = match &new.config {
            Some(c) => serde_json::to_value(c),
            None => serde_json::to_value(C::default()),
        }
        .map_err(|e| {
            Error::invalid_input(
                validate::TENANT,
                format!("the configuration does not serialize: {e}"),
            )
        })?;
        let now = chrono::Utc::now();
        let item = TenantItem {
            id: id.as_str().to_owned(),
            listing: Listing::Tenant,
            name: new.name.clone(),
            status: TenantStatus::Pending,
            subdomain: new.subdomain.clone(),
            domains: Vec::new(),
            config,
            steps_done: StringSet::new(),
            offboard_checkpoint: None,
            offboard_deleted: 0,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let db = &self.inner.db;
        let mut tx = db.transact_write().create(item);
        if let Some(s) = &new.subdomain {
            tx = tx.create(HostItem {
                kind: HostKind::Subdomain,
                host: s.clone(),
                tenant: id.as_str().to_owned(),
            });
        }
        let hosts: Vec<Lookup> = new
            .subdomain
            .iter()
            .cloned()
            .map(Lookup::Subdomain)
            .collect();
        let written = tx.await;
        self.forget(&id, &hosts);
        match written {
            Ok(()) => {}
            Err(e) => {
                let failed = |position: usize| {
                    e.transaction_reasons()
                        .unwrap_or_default()
                        .iter()
                        .any(|r| r.position == position && r.is_condition_failed())
                };
                let record_exists = failed(RECORD);
                let subdomain_taken = failed(SUBDOMAIN);
                if !(record_exists || e.is_outcome_unknown()) {
                    if subdomain_taken {
                        return Err(Error::UniqueViolation {
                            model: validate::TENANT,
                            constraint: "subdomain",
                        });
                    }
                    return Err(e);
                }
                // The tenant exists (or the write may have been applied): the same request
                // resumes, another one is refused.
                let stored = TenantItem::find(db, id.as_str()).consistent().await?;
                match stored {
                    Some(s) if s.name == new.name && s.subdomain == new.subdomain => {}
                    Some(_) => {
                        return Err(Error::AlreadyExists {
                            model: validate::TENANT,
                        })
                    }
                    None => return Err(e),
                }
            }
        }
        self.resume_provisioning(&id).await
    }

    /// Runs the provisioning steps of a `pending` tenant that have not succeeded yet, then sets
    /// it `active`; a tenant past `pending` is returned as it is. [`Error::NotFound`] for an
    /// unknown tenant, [`Error::Provisioning`] when a step fails (the tenant stays `pending`).
    pub async fn resume_provisioning(&self, id: &TenantId) -> Result<Arc<TenantRecord<C>>, Error> {
        let db = &self.inner.db;
        let mut item = self.current(id).await?;
        if item.status != TenantStatus::Pending {
            return Ok(Arc::new(TenantRecord::from_item(item)?));
        }
        for step in &self.inner.steps {
            if item.steps_done.contains(&step.name) {
                continue;
            }
            let record = Arc::new(TenantRecord::from_item(item.clone())?);
            TenantContext::scope(id.clone(), (step.run)(record))
                .await
                .map_err(|source| Error::Provisioning {
                    tenant: id.as_str().to_owned(),
                    step: step.name.clone(),
                    source: source.into(),
                })?;
            item = TenantItem::update(db, id.as_str())
                .add_to_set(TenantItem::STEPS_DONE, [step.name.clone()])
                .await?;
            tracing::debug!(tenant = %id, step = %step.name, "dynabao: provisioning step done");
        }
        let done = TenantItem::update(db, id.as_str())
            .set(TenantItem::STATUS, TenantStatus::Active)
            .condition(TenantItem::STATUS.eq(TenantStatus::Pending))
            .await;
        self.forget(id, &[]);
        match done {
            Ok(item) => Ok(Arc::new(TenantRecord::from_item(item)?)),
            // Another process finished it first (or it is being offboarded): as it is now.
            Err(Error::ConditionFailed { .. }) => {
                Ok(Arc::new(TenantRecord::from_item(self.current(id).await?)?))
            }
            Err(e) => Err(e),
        }
    }
}
