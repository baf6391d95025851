//! Changing a tenant's record: name, status and configuration, in one version-checked write.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use super::stored::TenantItem;
use super::{validate, TenantConfig, TenantRecord, TenantRegistry, TenantStatus};
use crate::error::Error;
use crate::tenant::TenantId;

/// How many times an update without [`TenantUpdate::if_version`] re-reads and retries when a
/// concurrent change moved the version under it.
const ATTEMPTS: u32 = 5;

/// One change to the configuration, applied in order.
enum Edit<C> {
    Replace(C),
    Merge(serde_json::Value),
    With(Box<dyn Fn(&mut C) + Send + Sync>),
}

/// A change to a tenant's record, from [`TenantRegistry::update`]: any of its name, status
/// and configuration, written at once with the record's version checked. Send it with
/// [`send`](TenantUpdate::send) or `.await`.
///
/// Without [`if_version`](TenantUpdate::if_version) it reads the record, applies the changes and
/// writes them conditioned on the version it read, retrying from the read when a concurrent
/// change got there first, so no change is lost ([`Error::Contention`] after five such races).
/// With it, the stored version must be the given one: [`Error::VersionConflict`] otherwise,
/// with nothing written.
#[must_use = "an update does nothing until it is sent"]
pub struct TenantUpdate<'r, C> {
    registry: &'r TenantRegistry<C>,
    id: TenantId,
    name: Option<String>,
    status: Option<TenantStatus>,
    edits: Vec<Edit<C>>,
    if_version: Option<u64>,
}

impl<C> std::fmt::Debug for TenantUpdate<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantUpdate")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("config_edits", &self.edits.len())
            .field("if_version", &self.if_version)
            .finish()
    }
}

impl<C: TenantConfig> TenantRegistry<C> {
    /// Starts a change to tenant `id`'s record.
    pub fn update(&self, id: &TenantId) -> TenantUpdate<'_, C> {
        TenantUpdate {
            registry: self,
            id: id.clone(),
            name: None,
            status: None,
            edits: Vec::new(),
            if_version: None,
        }
    }

    /// Edits the tenant's configuration in place (`|c| c.currency = "EUR".into()`): the fields
    /// the closure leaves alone keep their stored values, even when another process changed
    /// them a moment ago.
    pub async fn update_config(
        &self,
        id: &TenantId,
        edit: impl Fn(&mut C) + Send + Sync + 'static,
    ) -> Result<Arc<TenantRecord<C>>, Error> {
        self.update(id).config_with(edit).send().await
    }

    /// Suspends (`Suspended`) or reactivates (`Active`) a tenant.
    pub async fn set_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<Arc<TenantRecord<C>>, Error> {
        self.update(id).status(status).send().await
    }
}

impl<'r, C: TenantConfig> TenantUpdate<'r, C> {
    /// Renames the tenant.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Moves the tenant to `Active` or `Suspended`. Only those two, and only from one of them:
    /// `pending` ends with provisioning and `offboarding` with the tenant's removal
    /// ([`Error::InvalidInput`] otherwise).
    pub fn status(mut self, status: TenantStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: C) -> Self {
        self.edits.push(Edit::Replace(config));
        self
    }

    /// Edits the configuration in place.
    pub fn config_with(mut self, edit: impl Fn(&mut C) + Send + Sync + 'static) -> Self {
        self.edits.push(Edit::With(Box::new(edit)));
        self
    }

    /// Merges a JSON merge patch (RFC 7386) into the configuration: members of `patch` replace
    /// the stored ones, objects merge recursively, `null` removes a member. The result must
    /// still deserialize as `C` ([`Error::InvalidInput`] otherwise, nothing written). The way
    /// to apply a `PATCH` body.
    pub fn merge_config(mut self, patch: serde_json::Value) -> Self {
        self.edits.push(Edit::Merge(patch));
        self
    }

    /// Writes only if the stored version is `version` (an `If-Match` header):
    /// [`Error::VersionConflict`] otherwise.
    pub fn if_version(mut self, version: u64) -> Self {
        self.if_version = Some(version);
        self
    }

    /// Applies the changes; the record as stored afterwards.
    pub async fn send(self) -> Result<Arc<TenantRecord<C>>, Error> {
        if let Some(name) = &self.name {
            validate::name(name)?;
        }
        if let Some(status) = self.status {
            if !matches!(status, TenantStatus::Active | TenantStatus::Suspended) {
                return Err(Error::invalid_input(
                    validate::TENANT,
                    format!("a tenant cannot be set {status}; only active or suspended"),
                ));
            }
        }
        let db = &self.registry.inner.db;
        for _ in 0..ATTEMPTS {
            let item = self.registry.current(&self.id).await?;
            if let Some(expected) = self.if_version {
                if item.version != expected {
                    return Err(Error::VersionConflict {
                        model: validate::TENANT,
                        expected,
                        actual: Some(item.version),
                    });
                }
            }
            if self.status.is_some()
                && !matches!(item.status, TenantStatus::Active | TenantStatus::Suspended)
            {
                return Err(Error::invalid_input(
                    validate::TENANT,
                    format!(
                        "the tenant is {}; its status cannot be changed",
                        item.status
                    ),
                ));
            }
            let config = self.edited(&item.config)?;
            let mut write = TenantItem::update(db, item.id.as_str()).if_version(item.version);
            let mut changed = false;
            if let Some(name) = self.name.as_ref().filter(|n| **n != item.name) {
                write = write.set(TenantItem::NAME, name.clone());
                changed = true;
            }
            if let Some(status) = self.status.filter(|s| *s != item.status) {
                write = write.set(TenantItem::STATUS, status);
                changed = true;
            }
            if config != item.config {
                write = write.set(TenantItem::CONFIG, config);
                changed = true;
            }
            if !changed {
                return Ok(Arc::new(TenantRecord::from_item(item)?));
            }
            match write.send().await {
                Ok(stored) => {
                    self.registry.forget(&self.id, &[]);
                    return Ok(Arc::new(TenantRecord::from_item(stored)?));
                }
                // Someone else changed the record since the read: read again.
                Err(Error::VersionConflict { .. }) if self.if_version.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Contention {
            model: validate::TENANT,
            attempts: ATTEMPTS,
        })
    }

    /// The stored configuration with every edit applied, checked to still be a `C`.
    fn edited(&self, stored: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let unfit = |e: serde_json::Error| {
            Error::invalid_input(
                validate::TENANT,
                format!("the configuration does not fit the service's type: {e}"),
            )
        };
        let mut json = stored.clone();
        for edit in &self.edits {
            match edit {
                Edit::Replace(config) => json = serde_json::to_value(config).map_err(unfit)?,
                Edit::Merge(patch) => merge_patch(&mut json, patch),
                Edit::With(f) => {
                    let mut config: C = serde_json::from_value(json).map_err(unfit)?;
                    f(&mut config);
                    json = serde_json::to_value(&config).map_err(unfit)?;
                }
            }
        }
        // What is stored is what `C` makes of it, so every reader decodes the same.
        let config: C = serde_json::from_value(json).map_err(unfit)?;
        serde_json::to_value(&config).map_err(unfit)
    }
}

impl<'r, C: TenantConfig> IntoFuture for TenantUpdate<'r, C> {
    type Output = Result<Arc<TenantRecord<C>>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'r>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// RFC 7386: merges `patch` into `target`.
pub(crate) fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    if let serde_json::Value::Object(map) = target {
        for (name, value) in members {
            if value.is_null() {
                map.remove(name);
            } else {
                merge_patch(
                    map.entry(name.clone()).or_insert(serde_json::Value::Null),
                    value,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [1]}),
                json!({"a": [2, 3]}),
                json!({"a": [2, 3]}),
            ),
            (json!(["a"]), json!({"a": "b"}), json!({"a": "b"})),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
        ];
        for (mut target, patch, want) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, want, "patch {patch}");
        }
    }
}
