//! Custom domains: each claimed by one tenant through an item keyed by the domain, written in
//! the same transaction as the record that lists it.

use std::sync::Arc;

use super::stored::{HostItem, HostKind, TenantItem};
use super::{validate, Lookup, TenantConfig, TenantRecord, TenantRegistry, TenantStatus};
use crate::error::Error;
use crate::tenant::TenantId;

/// The model name of domain errors.
const DOMAIN: &str = "TenantDomain";
/// How often a domain change re-reads after a concurrent change to the record.
const ATTEMPTS: u32 = 5;

impl<C: TenantConfig> TenantRegistry<C> {
    /// Claims custom domain `domain` (`billing.acme.com`, lowercase) for tenant `id`. Adding a
    /// domain the tenant already has changes nothing. [`Error::UniqueViolation`] (constraint
    /// `domain`) when another tenant holds it, [`Error::InvalidInput`] for a malformed
    /// domain or a tenant being offboarded, [`Error::NotFound`] for an unknown tenant.
    pub async fn add_domain(
        &self,
        id: &TenantId,
        domain: &str,
    ) -> Result<Arc<TenantRecord<C>>, Error> {
        validate::domain(domain)?;
        self.change_domains(id, domain, true).await
    }

    /// Releases custom domain `domain` of tenant `id`. [`Error::NotFound`] (model
    /// `TenantDomain`) when the tenant does not have it.
    pub async fn remove_domain(
        &self,
        id: &TenantId,
        domain: &str,
    ) -> Result<Arc<TenantRecord<C>>, Error> {
        self.change_domains(id, domain, false).await
    }

    async fn change_domains(
        &self,
        id: &TenantId,
        domain: &str,
        add: bool,
    ) -> Result<Arc<TenantRecord<C>>, Error> {
        let db = &self.inner.db;
        for _ in 0..ATTEMPTS {
            let item = self.current(id).await?;
            if item.status == TenantStatus::Offboarding {
                return Err(Error::invalid_input(
                    validate::TENANT,
                    "the tenant is being offboarded",
                ));
            }
            let has = item.domains.iter().any(|d| d == domain);
            if has == add {
                if add {
                    return Ok(Arc::new(TenantRecord::from_item(item)?));
                }
                return Err(Error::NotFound { model: DOMAIN });
            }
            let domains: Vec<String> = if add {
                item.domains
                    .iter()
                    .cloned()
                    .chain([domain.to_owned()])
                    .collect()
            } else {
                item.domains
                    .iter()
                    .filter(|d| *d != domain)
                    .cloned()
                    .collect()
            };
            let version = item.version;
            let record = move |db| {
                TenantItem::update(db, id.as_str())
                    .set(TenantItem::DOMAINS, domains)
                    .if_version(version)
            };
            let tx = if add {
                db.transact_write()
                    .create(HostItem {
                        kind: HostKind::Domain,
                        host: domain.to_owned(),
                        tenant: id.as_str().to_owned(),
                    })
                    .update(record)
            } else {
                db.transact_write()
                    .delete(|db| {
                        HostItem::delete(db, &HostKind::Domain, domain)
                            .condition(HostItem::TENANT.eq(id.as_str()))
                    })
                    .update(record)
            };
            let written = tx.await;
            self.forget(id, &[Lookup::Domain(domain.to_owned())]);
            match written {
                Ok(()) => return Ok(Arc::new(TenantRecord::from_item(self.current(id).await?)?)),
                Err(e) => {
                    let reasons = e.transaction_reasons().unwrap_or_default();
                    let failed = |p: usize| {
                        reasons
                            .iter()
                            .any(|r| r.position == p && r.is_condition_failed())
                    };
                    if failed(1) {
                        continue; // the record changed since the read
                    }
                    if failed(0) {
                        return Err(if add {
                            Error::UniqueViolation {
                                model: DOMAIN,
                                constraint: "domain",
                            }
                        } else {
                            Error::NotFound { model: DOMAIN }
                        });
                    }
                    return Err(e);
                }
            }
        }
        Err(Error::Contention {
            model: validate::TENANT,
            attempts: ATTEMPTS,
        })
    }
}
