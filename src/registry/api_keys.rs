//! Tenant-scoped API keys: `<prefix>_<id>_<secret>`, shown once, stored as a SHA-256 hash
//! under the public `<prefix>_<id>`, looked up through the cache and compared in constant time.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::stored::ApiKeyItem;
use super::{validate, KeyEntry, TenantConfig, TenantRegistry, TenantStatus};
use crate::error::Error;
use crate::tenant::TenantId;
use std::sync::Arc;

/// The model name of API-key errors.
const API_KEY: &str = "ApiKey";
/// Random bytes in a key's secret part (256 bits).
const SECRET_BYTES: usize = 32;

/// A key just issued: the only time its secret is seen. Its `Debug` output hides the secret.
#[derive(Clone)]
#[non_exhaustive]
pub struct IssuedApiKey {
    secret: String,
    /// The name it was issued under.
    pub name: String,
    /// Its public prefix (`dbk_01j...`): what lists show and what revokes it.
    pub prefix: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

impl IssuedApiKey {
    /// The whole key, to give to the client once. Only a hash of it is stored.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A stored key as lists show it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApiKeyInfo {
    /// The name it was issued under.
    pub name: String,
    /// Its public prefix.
    pub prefix: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// SHA-256 of a key.
fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl<C: TenantConfig> TenantRegistry<C> {
    /// Issues an API key for tenant `id` under `name` (`"ci"`, `"billing export"`): returns
    /// the key once; only its hash is stored. [`Error::NotFound`] for an unknown tenant,
    /// [`Error::InvalidInput`] for a bad name or a tenant being offboarded.
    pub async fn issue_api_key(&self, id: &TenantId, name: &str) -> Result<IssuedApiKey, Error> {
        validate::key_name(name)?;
        let tenant = self.current(id).await?;
        if tenant.status == TenantStatus::Offboarding {
            return Err(Error::invalid_input(
                API_KEY,
                "the tenant is being offboarded",
            ));
        }
        let mut random = [0u8; SECRET_BYTES];
        getrandom::fill(&mut random).map_err(|e| {
            Error::Config(format!(
                "API key: the operating system's random source failed: {e}"
            ))
        })?;
        let prefix = format!(
            "{}_{}",
            self.inner.key_prefix,
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let secret = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(random));
        let stored = ApiKeyItem::create(
            &self.inner.db,
            ApiKeyItem {
                id: prefix.clone(),
                tenant: id.as_str().to_owned(),
                name: name.to_owned(),
                hash: hex(&digest(&secret)),
                created_at: Utc::now(),
            },
        )
        .await?;
        self.inner.keys.invalidate(&prefix);
        Ok(IssuedApiKey {
            secret,
            name: stored.name,
            prefix,
            created_at: stored.created_at,
        })
    }

    /// The tenant's keys (names and prefixes, never secrets), oldest first.
    pub async fn list_api_keys(&self, id: &TenantId) -> Result<Vec<ApiKeyInfo>, Error> {
        let items = ApiKeyItem::query_by_tenant(&self.inner.db, id.as_str())
            .all()
            .await?;
        Ok(items
            .into_iter()
            .map(|k| ApiKeyInfo {
                name: k.name,
                prefix: k.id,
                created_at: k.created_at,
            })
            .collect())
    }

    /// Revokes the key with public prefix `prefix` of tenant `id`: it stops working at once in
    /// this process, and in others once their cache entry expires (`cache_ttl`).
    /// [`Error::NotFound`] (model `ApiKey`) when the tenant has no such key.
    pub async fn revoke_api_key(&self, id: &TenantId, prefix: &str) -> Result<(), Error> {
        let deleted = ApiKeyItem::delete(&self.inner.db, prefix)
            .condition(ApiKeyItem::TENANT.eq(id.as_str()))
            .await;
        self.inner.keys.invalidate(&prefix.to_owned());
        match deleted {
            Ok(_) => Ok(()),
            Err(Error::NotFound { .. } | Error::ConditionFailed { .. }) => {
                Err(Error::NotFound { model: API_KEY })
            }
            Err(e) => Err(e),
        }
    }

    /// The tenant an API key belongs to, or `None` for a key that is malformed, unknown or
    /// revoked. Cached by the key's public prefix; the hashes are compared in constant time.
    pub async fn tenant_of_api_key(&self, key: &str) -> Result<Option<TenantId>, Error> {
        let Some(prefix) = self.key_prefix_of(key) else {
            return Ok(None);
        };
        let entry = self
            .inner
            .keys
            .get_or_load(&prefix.to_owned(), || async {
                let Some(item) = ApiKeyItem::find(&self.inner.db, prefix)
                    .consistent()
                    .await?
                else {
                    return Ok(None);
                };
                let malformed = |reason: &str| Error::MalformedItem {
                    model: API_KEY,
                    reason: reason.to_owned(),
                };
                Ok(Some(Arc::new(KeyEntry {
                    tenant: TenantId::new(&item.tenant)
                        .map_err(|_| malformed("the stored tenant id is not valid"))?,
                    digest: unhex(&item.hash)
                        .ok_or_else(|| malformed("the stored hash is not SHA-256 hex"))?,
                })))
            })
            .await?;
        Ok(entry.and_then(|e| bool::from(e.digest.ct_eq(&digest(key))).then(|| e.tenant.clone())))
    }

    /// The public prefix of a well-formed key of this registry: `<prefix>_<26-character id>`
    /// followed by `_` and a non-empty secret.
    fn key_prefix_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key
            .strip_prefix(self.inner.key_prefix.as_str())?
            .strip_prefix('_')?;
        let id = rest.get(..26)?;
        let secret = rest.get(26..)?.strip_prefix('_')?;
        if secret.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        key.get(..self.inner.key_prefix.len() + 1 + 26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let d = digest("dbk_x_y");
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }
}
