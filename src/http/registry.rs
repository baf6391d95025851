//! The registry at the edge: [`RegistryGate`] admits only tenants that exist and are in
//! service, and [`RegistryLookup`] maps API keys, subdomains and custom domains to tenants
//! for the resolvers.

use std::fmt;

use http::Extensions;

use super::{GateFuture, LookupFuture, Rejection, TenantGate, TenantLookup};
use crate::registry::{CurrentTenant, TenantConfig, TenantRegistry, TenantStatus};
use crate::tenant::TenantId;

/// A [`TenantGate`] over a [`TenantRegistry`]: an unknown tenant is `404 tenant_not_found`
/// (or `403 tenant_forbidden`, [`unknown_as_forbidden`](RegistryGate::unknown_as_forbidden)),
/// a suspended one `403 tenant_suspended`, a pending or offboarding one `403
/// tenant_unavailable`. An active tenant's record goes into the request extensions as
/// [`CurrentTenant<C>`]. Lookups go through the registry's cache, so a busy tenant costs no
/// read per request.
///
/// ```no_run
/// use dynabao::http::{HeaderResolver, TenantLayer, authorize_principal};
/// use dynabao::registry::TenantRegistry;
/// # fn layer(db: &dynabao::Db) -> Result<TenantLayer, dynabao::Error> {
/// let registry = TenantRegistry::<serde_json::Value>::new(db)?;
/// TenantLayer::builder()
///     .resolver(dynabao::http::ApiKeyResolver::new(registry.api_key_lookup()).bearer())
///     .gate(registry.gate())
///     .build()
/// # }
/// ```
pub struct RegistryGate<C> {
    registry: TenantRegistry<C>,
    hide_unknown: bool,
}

impl<C> fmt::Debug for RegistryGate<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryGate")
            .field("hide_unknown", &self.hide_unknown)
            .finish_non_exhaustive()
    }
}

impl<C: TenantConfig> RegistryGate<C> {
    /// Answers an unknown tenant with `403 tenant_forbidden`, like a tenant the principal may
    /// not use, so that a client cannot probe which tenants exist.
    pub fn unknown_as_forbidden(mut self) -> Self {
        self.hide_unknown = true;
        self
    }
}

impl<C: TenantConfig> TenantGate for RegistryGate<C> {
    fn admit<'a>(&'a self, tenant: &'a TenantId, extensions: &'a mut Extensions) -> GateFuture<'a> {
        Box::pin(async move {
            let Some(record) = self
                .registry
                .get(tenant)
                .await
                .map_err(Rejection::internal)?
            else {
                return Err(if self.hide_unknown {
                    Rejection::Forbidden
                } else {
                    Rejection::TenantNotFound
                });
            };
            match record.status {
                TenantStatus::Active => {
                    extensions.insert(CurrentTenant(record));
                    Ok(())
                }
                TenantStatus::Suspended => Err(Rejection::TenantSuspended),
                _ => Err(Rejection::TenantUnavailable),
            }
        })
    }
}

/// What a [`RegistryLookup`] maps to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    ApiKey,
    Subdomain,
    Domain,
}

/// A [`TenantLookup`] over a [`TenantRegistry`]: API keys it issued (for
/// [`ApiKeyResolver`](super::ApiKeyResolver)), subdomains (for
/// [`SubdomainResolver::lookup`](super::SubdomainResolver::lookup)) or custom domains (for
/// [`DomainResolver`](super::DomainResolver)). Built by
/// [`TenantRegistry::api_key_lookup`], [`subdomain_lookup`](TenantRegistry::subdomain_lookup)
/// and [`domain_lookup`](TenantRegistry::domain_lookup).
pub struct RegistryLookup<C> {
    registry: TenantRegistry<C>,
    source: Source,
}

impl<C> fmt::Debug for RegistryLookup<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLookup")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<C: TenantConfig> TenantLookup for RegistryLookup<C> {
    fn lookup<'a>(&'a self, value: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let found = match self.source {
                Source::ApiKey => self.registry.tenant_of_api_key(value).await,
                Source::Subdomain => self
                    .registry
                    .by_subdomain(value)
                    .await
                    .map(|r| r.map(|r| r.id.clone())),
                Source::Domain => self
                    .registry
                    .by_domain(value)
                    .await
                    .map(|r| r.map(|r| r.id.clone())),
            };
            found.map_err(Rejection::internal)
        })
    }
}

impl<C: TenantConfig> TenantRegistry<C> {
    /// The [`TenantGate`] that checks each request's tenant against this registry.
    pub fn gate(&self) -> RegistryGate<C> {
        RegistryGate {
            registry: self.clone(),
            hide_unknown: false,
        }
    }

    /// Maps API keys this registry issued to their tenants, for
    /// [`ApiKeyResolver`](super::ApiKeyResolver).
    pub fn api_key_lookup(&self) -> RegistryLookup<C> {
        self.lookup(Source::ApiKey)
    }

    /// Maps subdomain labels to their tenants, for
    /// [`SubdomainResolver::lookup`](super::SubdomainResolver::lookup).
    pub fn subdomain_lookup(&self) -> RegistryLookup<C> {
        self.lookup(Source::Subdomain)
    }

    /// Maps custom domains to their tenants, for [`DomainResolver`](super::DomainResolver).
    pub fn domain_lookup(&self) -> RegistryLookup<C> {
        self.lookup(Source::Domain)
    }

    fn lookup(&self, source: Source) -> RegistryLookup<C> {
        RegistryLookup {
            registry: self.clone(),
            source,
        }
    }
}
