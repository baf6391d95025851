//! The tenant registry (feature `registry`): records and their errors, the cache, API keys,
//! provisioning steps, export and offboarding, each checked against what is really stored.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dynabao::registry::{ExportedKind, NewTenant, OffboardProgress, TenantRegistry, TenantStatus};
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Db, Error, Item, Model, TenantContext, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ulid::Ulid;

use crate::models::{Post, Session, User};
use crate::models_tx::{Member, Tally};
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

/// The configuration a service keeps per tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub currency: String,
    pub timezone: String,
    pub beta: bool,
    pub seats: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            currency: "USD".into(),
            timezone: "UTC".into(),
            beta: false,
            seats: 5,
        }
    }
}

type Registry = TenantRegistry<Settings>;

/// A fresh tenant id that is also a valid subdomain label (lowercase).
fn fresh_label() -> String {
    fresh_tenant().as_str().to_ascii_lowercase()
}

#[tokio::test]
async fn provision_is_validated_idempotent_and_unique() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let t = fresh_tenant();
    let label = fresh_label();
    let acme = registry
        .provision(NewTenant::new(t.as_str(), "Acme").subdomain(label.as_str()))
        .await?;
    assert_eq!(acme.id, t);
    assert_eq!(acme.status, TenantStatus::Active);
    assert_eq!(acme.subdomain.as_deref(), Some(label.as_str()));
    assert_eq!(acme.config, Settings::default());
    assert_eq!(registry.get(&t).await?.as_deref(), Some(&*acme));
    let by_sub = registry.by_subdomain(&label.to_ascii_uppercase()).await?;
    assert_eq!(by_sub.map(|r| r.id.clone()), Some(t.clone()));

    // The same request again: the same tenant, nothing new stored.
    let before = raw_scan(&db).await.len();
    let again = registry
        .provision(NewTenant::new(t.as_str(), "Acme").subdomain(label.as_str()))
        .await?;
    assert_eq!(again.id, t);
    assert_eq!(again.version, acme.version);
    assert_eq!(raw_scan(&db).await.len(), before);

    // A different request for the id, a taken subdomain, bad input: refused, nothing stored.
    let other = registry
        .provision(NewTenant::new(t.as_str(), "Not Acme"))
        .await;
    assert!(
        matches!(
            other,
            Err(Error::AlreadyExists {
                model: "TenantRecord"
            })
        ),
        "{other:?}"
    );
    let taken = registry
        .provision(NewTenant::new(fresh_tenant().as_str(), "Copycat").subdomain(label.as_str()))
        .await;
    assert!(
        matches!(
            taken,
            Err(Error::UniqueViolation {
                model: "TenantRecord",
                constraint: "subdomain"
            })
        ),
        "{taken:?}"
    );
    let bad_id = registry.provision(NewTenant::new("no#pe", "Bad")).await;
    assert!(
        matches!(bad_id, Err(Error::InvalidTenantId { .. })),
        "{bad_id:?}"
    );
    for sub in ["Upper", "-dash", "a.b", ""] {
        let bad = registry
            .provision(NewTenant::new(fresh_tenant().as_str(), "Bad").subdomain(sub))
            .await;
        assert!(
            matches!(
                bad,
                Err(Error::InvalidInput {
                    model: "TenantRecord",
                    ..
                })
            ),
            "{sub}: {bad:?}"
        );
    }
    let bad_name = registry
        .provision(NewTenant::new(fresh_tenant().as_str(), " "))
        .await;
    assert!(
        matches!(bad_name, Err(Error::InvalidInput { .. })),
        "{bad_name:?}"
    );
    assert_eq!(
        raw_scan(&db).await.len(),
        before,
        "no refused request stored anything"
    );

    // A configuration given at provisioning.
    let custom = Settings {
        currency: "EUR".into(),
        ..Settings::default()
    };
    let t2 = fresh_tenant();
    let b = registry
        .provision(NewTenant::new(t2.as_str(), "B").config(custom.clone()))
        .await?;
    assert_eq!(b.config, custom);
    assert_eq!(registry.get(&fresh_tenant()).await?, None);
    Ok(())
}

#[tokio::test]
async fn list_pages_with_a_cursor() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let mut ids = BTreeSet::new();
    for i in 0..5 {
        let t = fresh_tenant();
        registry
            .provision(NewTenant::new(t.as_str(), format!("T{i}")))
            .await?;
        ids.insert(t);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = registry.list(2, cursor.as_deref()).await?;
        assert!(page.items.len() <= 2);
        pages += 1;
        seen.extend(page.items.iter().map(|r| r.id.clone()));
        match page.cursor() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(pages >= 3, "{pages}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in id order");
    let page = registry.list(2, None).await?;
    let json = serde_json::to_value(page.map(|r| r.id.clone())).expect("serializes");
    assert!(
        json["items"].is_array() && json["cursor"].is_string(),
        "{json}"
    );
    let tampered = registry.list(2, Some("not-a-cursor")).await;
    assert!(
        matches!(tampered, Err(Error::InvalidCursor { .. })),
        "{tampered:?}"
    );
    Ok(())
}

#[tokio::test]
async fn updates_are_version_checked_partial_and_typed() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let t = fresh_tenant();
    let first = registry
        .provision(NewTenant::new(t.as_str(), "Acme"))
        .await?;

    let eur = registry
        .update_config(&t, |c| c.currency = "EUR".into())
        .await?;
    assert_eq!(eur.config.currency, "EUR");
    assert_eq!(eur.config.timezone, "UTC", "the other fields kept");
    assert_eq!(eur.version, first.version + 1);

    let merged = registry
        .update(&t)
        .merge_config(json!({"timezone": "Europe/Oslo", "beta": true}))
        .name("Acme AS")
        .if_version(eur.version)
        .await?;
    assert_eq!(merged.config.currency, "EUR");
    assert_eq!(merged.config.timezone, "Europe/Oslo");
    assert!(merged.config.beta);
    assert_eq!(merged.name, "Acme AS");

    // Stale version, a configuration of the wrong shape, a status no update may set: typed
    // errors, nothing written.
    let stale = registry
        .update(&t)
        .name("Old")
        .if_version(eur.version)
        .await;
    assert!(
        matches!(stale, Err(Error::VersionConflict { model: "TenantRecord", expected, actual: Some(a) }) if expected == eur.version && a == merged.version),
        "{stale:?}"
    );
    let unfit = registry
        .update(&t)
        .merge_config(json!({"seats": "many"}))
        .await;
    assert!(
        matches!(
            unfit,
            Err(Error::InvalidInput {
                model: "TenantRecord",
                ..
            })
        ),
        "{unfit:?}"
    );
    let offboarding = registry.update(&t).status(TenantStatus::Offboarding).await;
    assert!(
        matches!(offboarding, Err(Error::InvalidInput { .. })),
        "{offboarding:?}"
    );
    let stored = registry.fetch(&t).await?.expect("stored");
    assert_eq!(stored.version, merged.version);
    assert_eq!(stored.name, "Acme AS");

    // Suspend and reactivate; an unknown tenant.
    let suspended = registry.set_status(&t, TenantStatus::Suspended).await?;
    assert_eq!(suspended.status, TenantStatus::Suspended);
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Suspended)
    );
    registry.set_status(&t, TenantStatus::Active).await?;
    let unknown = registry
        .set_status(&fresh_tenant(), TenantStatus::Suspended)
        .await;
    assert!(
        matches!(
            unknown,
            Err(Error::NotFound {
                model: "TenantRecord"
            })
        ),
        "{unknown:?}"
    );

    // Concurrent partial edits of different fields: none is lost.
    let a = registry.clone();
    let b = registry.clone();
    let (ta, tb) = (t.clone(), t.clone());
    let (x, y) = tokio::join!(
        async move { a.update_config(&ta, |c| c.seats = 42).await },
        async move { b.update_config(&tb, |c| c.currency = "NOK".into()).await },
    );
    x?;
    y?;
    let both = registry.fetch(&t).await?.expect("stored");
    assert_eq!(
        (both.config.seats, both.config.currency.as_str()),
        (42, "NOK")
    );
    Ok(())
}

#[tokio::test]
async fn domains_are_unique_across_tenants() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    registry.provision(NewTenant::new(a.as_str(), "A")).await?;
    registry.provision(NewTenant::new(b.as_str(), "B")).await?;
    let domain = format!("billing.{}.test", fresh_label());
    let with = registry.add_domain(&a, &domain).await?;
    assert_eq!(with.domains, vec![domain.clone()]);
    assert_eq!(
        registry.add_domain(&a, &domain).await?.version,
        with.version,
        "no change"
    );
    assert_eq!(
        registry
            .by_domain(&domain.to_ascii_uppercase())
            .await?
            .map(|r| r.id.clone()),
        Some(a.clone())
    );
    let taken = registry.add_domain(&b, &domain).await;
    assert!(
        matches!(
            taken,
            Err(Error::UniqueViolation {
                constraint: "domain",
                ..
            })
        ),
        "{taken:?}"
    );
    let bad = registry.add_domain(&b, "not a domain").await;
    assert!(
        matches!(
            bad,
            Err(Error::InvalidInput {
                model: "TenantDomain",
                ..
            })
        ),
        "{bad:?}"
    );
    let not_theirs = registry.remove_domain(&b, &domain).await;
    assert!(
        matches!(
            not_theirs,
            Err(Error::NotFound {
                model: "TenantDomain"
            })
        ),
        "{not_theirs:?}"
    );
    let unknown = registry.add_domain(&fresh_tenant(), "x.test").await;
    assert!(
        matches!(
            unknown,
            Err(Error::NotFound {
                model: "TenantRecord"
            })
        ),
        "{unknown:?}"
    );

    let without = registry.remove_domain(&a, &domain).await?;
    assert!(without.domains.is_empty());
    assert!(
        registry.by_domain(&domain).await?.is_none(),
        "seen at once by this registry"
    );
    let moved = registry.add_domain(&b, &domain).await?;
    assert_eq!(moved.domains, vec![domain.clone()]);
    let claims: Vec<_> = raw_scan(&db)
        .await
        .into_iter()
        .filter(|i| s(i, "_pk").is_some_and(|pk| pk.starts_with("_thost#domain#")))
        .collect();
    assert_eq!(claims.len(), 1);
    assert_eq!(s(&claims[0], "tenant"), Some(b.as_str()));
    Ok(())
}

#[tokio::test]
async fn the_cache_serves_hits_expires_and_keeps_misses_short() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let registry = Registry::builder(&db)
        .cache_ttl(Duration::from_millis(400))
        .negative_ttl(Duration::from_millis(200))
        .build()?;
    let t = fresh_tenant();
    registry
        .provision(NewTenant::new(t.as_str(), "Cached"))
        .await?;

    let n = counter.count();
    registry.get(&t).await?;
    let after_first = counter.count();
    assert!(after_first <= n + 1);
    for _ in 0..10 {
        assert!(registry.get(&t).await?.is_some());
    }
    assert_eq!(counter.count(), after_first, "hits send nothing");
    tokio::time::sleep(Duration::from_millis(500)).await;
    registry.get(&t).await?;
    assert_eq!(
        counter.count(),
        after_first + 1,
        "an expired entry is read again"
    );

    // A missing tenant: cached as missing, for the shorter time.
    let missing = fresh_tenant();
    let n = counter.count();
    assert!(registry.get(&missing).await?.is_none());
    assert!(registry.get(&missing).await?.is_none());
    assert_eq!(counter.count(), n + 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(registry.get(&missing).await?.is_none());
    assert_eq!(counter.count(), n + 2);

    // A stampede of 1,000 lookups of one missing tenant: one request.
    let flood = fresh_tenant();
    let n = counter.count();
    let lookups = (0..1000).map(|_| {
        let (registry, flood) = (registry.clone(), flood.clone());
        tokio::spawn(async move { registry.get(&flood).await })
    });
    for found in futures::future::join_all(lookups).await {
        assert!(found.expect("joined")?.is_none());
    }
    assert_eq!(
        counter.count(),
        n + 1,
        "one read for 1,000 concurrent misses"
    );

    // A change through this registry is seen at once; one through another process's
    // registry once the entry expires.
    registry.set_status(&t, TenantStatus::Suspended).await?;
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Suspended)
    );
    let elsewhere = Registry::builder(&db)
        .cache_ttl(Duration::from_secs(60))
        .build()?;
    elsewhere.set_status(&t, TenantStatus::Active).await?;
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Suspended)
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Active)
    );
    // A service told of the other process's change invalidates at once.
    elsewhere.set_status(&t, TenantStatus::Suspended).await?;
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Active)
    );
    registry.invalidate(&t);
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Suspended)
    );

    // A tenant provisioned here replaces its own negative entry at once.
    let late = fresh_tenant();
    assert!(registry.get(&late).await?.is_none());
    registry
        .provision(NewTenant::new(late.as_str(), "Late"))
        .await?;
    assert!(registry.get(&late).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn api_keys_are_issued_once_hashed_and_revoked() -> R {
    let db = fresh_db().await?;
    let registry = Registry::builder(&db)
        .cache_ttl(Duration::from_millis(300))
        .build()?;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    registry
        .provision(NewTenant::new(t.as_str(), "Keys"))
        .await?;
    registry
        .provision(NewTenant::new(other.as_str(), "Other"))
        .await?;
    let key = registry.issue_api_key(&t, "ci").await?;
    assert!(key.secret().starts_with(&format!("{}_", key.prefix)));
    assert!(key.prefix.starts_with("dbk_"));
    assert!(key.secret().len() > key.prefix.len() + 40, "high entropy");
    assert!(
        !format!("{key:?}").contains(key.secret()),
        "Debug hides the secret"
    );
    assert_eq!(
        registry.tenant_of_api_key(key.secret()).await?,
        Some(t.clone())
    );

    // Only a hash is stored.
    let stored: Vec<Item> = raw_scan(&db)
        .await
        .into_iter()
        .filter(|i| s(i, "_pk").is_some_and(|pk| pk.starts_with("_apikey#")))
        .collect();
    assert_eq!(stored.len(), 1);
    let secret_part = &key.secret()[key.prefix.len() + 1..];
    assert!(stored[0]
        .values()
        .all(|v| !format!("{v:?}").contains(secret_part)));

    let listed = registry.list_api_keys(&t).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].prefix.as_str()),
        ("ci", key.prefix.as_str())
    );
    assert!(registry.list_api_keys(&other).await?.is_empty());

    // Wrong secrets and junk are unknown keys.
    let forged = format!("{}_{}", key.prefix, "A".repeat(43));
    assert_eq!(registry.tenant_of_api_key(&forged).await?, None);
    for junk in ["", "dbk_", "nope", &key.prefix, "dbk_01abc_x"] {
        assert_eq!(registry.tenant_of_api_key(junk).await?, None, "{junk}");
    }
    assert!(matches!(
        registry.issue_api_key(&t, "").await,
        Err(Error::InvalidInput {
            model: "ApiKey",
            ..
        })
    ));
    assert!(matches!(
        registry.issue_api_key(&fresh_tenant(), "x").await,
        Err(Error::NotFound {
            model: "TenantRecord"
        })
    ));

    // Revoked: at once here, within the TTL in another process that had it cached.
    let elsewhere = Registry::builder(&db)
        .cache_ttl(Duration::from_millis(300))
        .build()?;
    assert_eq!(
        elsewhere.tenant_of_api_key(key.secret()).await?,
        Some(t.clone())
    );
    let wrong_tenant = registry.revoke_api_key(&other, &key.prefix).await;
    assert!(
        matches!(wrong_tenant, Err(Error::NotFound { model: "ApiKey" })),
        "{wrong_tenant:?}"
    );
    registry.revoke_api_key(&t, &key.prefix).await?;
    assert_eq!(registry.tenant_of_api_key(key.secret()).await?, None);
    assert_eq!(
        elsewhere.tenant_of_api_key(key.secret()).await?,
        Some(t.clone()),
        "cached"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        elsewhere.tenant_of_api_key(key.secret()).await?,
        None,
        "expired"
    );
    let twice = registry.revoke_api_key(&t, &key.prefix).await;
    assert!(
        matches!(twice, Err(Error::NotFound { model: "ApiKey" })),
        "{twice:?}"
    );
    Ok(())
}

#[tokio::test]
async fn provisioning_steps_run_in_the_tenant_and_resume_after_a_failure() -> R {
    let db = fresh_db().await?;
    let seeded = Arc::new(AtomicUsize::new(0));
    let billing_calls = Arc::new(AtomicUsize::new(0));
    let registry = {
        let (seeded, billing_calls, seed_db) = (seeded.clone(), billing_calls.clone(), db.clone());
        Registry::builder(&db)
            .on_provision("seed", move |tenant| {
                let (seeded, db) = (seeded.clone(), seed_db.clone());
                async move {
                    assert_eq!(TenantContext::current(), Some(tenant.id.clone()));
                    assert_eq!(tenant.status, TenantStatus::Pending);
                    Tally::create(&db, Tally::new("welcome")).await?;
                    seeded.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Error>(())
                }
            })
            .on_provision("billing", move |_| {
                let calls = billing_calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if calls == 0 {
                        Err("the billing service is down".to_owned())
                    } else {
                        Ok(())
                    }
                }
            })
            .build()?
    };
    let t = fresh_tenant();
    let failed = registry
        .provision(NewTenant::new(t.as_str(), "Steps"))
        .await;
    match &failed {
        Err(Error::Provisioning {
            tenant,
            step,
            source,
        }) => {
            assert_eq!((tenant.as_str(), step.as_str()), (t.as_str(), "billing"));
            assert!(source.to_string().contains("billing service is down"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(failed.unwrap_err().code(), "provisioning_failed");
    assert_eq!(
        registry.get(&t).await?.map(|r| r.status),
        Some(TenantStatus::Pending)
    );
    assert_eq!(
        tenant_items(&db, &t).await.len(),
        1,
        "the seed step wrote in the tenant"
    );

    let done = registry.resume_provisioning(&t).await?;
    assert_eq!(done.status, TenantStatus::Active);
    assert_eq!(
        seeded.load(Ordering::SeqCst),
        1,
        "a step that succeeded is not run again"
    );
    assert_eq!(billing_calls.load(Ordering::SeqCst), 2);
    // Once active, provisioning the same tenant again runs nothing.
    registry
        .provision(NewTenant::new(t.as_str(), "Steps"))
        .await?;
    assert_eq!(billing_calls.load(Ordering::SeqCst), 2);
    let unknown = registry.resume_provisioning(&fresh_tenant()).await;
    assert!(
        matches!(unknown, Err(Error::NotFound { .. })),
        "{unknown:?}"
    );
    assert!(matches!(
        Registry::builder(&db)
            .on_provision("a", |_| async { Ok::<_, Error>(()) })
            .on_provision("a", |_| async { Ok::<_, Error>(()) })
            .build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Registry::builder(&db).api_key_prefix("Bad_").build(),
        Err(Error::Config(_))
    ));
    let off = dynabao::testkit::fresh_db_with(dynabao::Tenancy::Off).await?;
    assert!(matches!(Registry::new(&off), Err(Error::Config(_))));
    Ok(())
}

/// Items of every kind for tenant `t`: plain, sort key, indexes, unique constraints, TTL.
async fn populate(db: &Db, t: &TenantId, n: usize) -> R {
    TenantContext::run_with_tenant(t.clone(), async {
        for i in 0..n {
            User::create(db, User::new(&format!("u{i}@x.test"))).await?;
            Post::create(
                db,
                Post {
                    author_id: Ulid::new(),
                    seq: i as i64,
                    title: format!("p{i}"),
                    tag: Some("news".into()),
                    published_at: Utc::now(),
                },
            )
            .await?;
            Member::create(db, Member::new(&format!("m{i}@x.test"))).await?;
            Tally::create(db, Tally::new(&format!("t{i}"))).await?;
            Session::create(
                db,
                Session {
                    session_id: format!("s{i}"),
                    user_name: format!("u{i}"),
                    expires_at: Utc::now() + chrono::Duration::hours(1),
                },
            )
            .await?;
        }
        Ok::<_, Error>(())
    })
    .await
}

fn stored_keys(items: &[Item]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|i| {
            (
                s(i, "_pk").unwrap_or_default().to_owned(),
                s(i, "_sk").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn export_finds_every_item_of_the_tenant_and_resumes() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let tenants: Vec<TenantId> = (0..3).map(|_| fresh_tenant()).collect();
    for t in &tenants {
        registry.provision(NewTenant::new(t.as_str(), "E")).await?;
        populate(&db, t, 6).await?;
    }
    let t = &tenants[1];
    let want = stored_keys(&tenant_items(&db, t).await);
    assert!(want.len() >= 6 * 6, "{}", want.len());

    let mut export = registry.export(t).page_size(7).segments(3);
    let mut got = Vec::new();
    let first = export.next_page().await?.expect("a first page");
    got.extend(first);
    let checkpoint = export.checkpoint()?;
    drop(export);
    let mut resumed = registry
        .export(t)
        .page_size(7)
        .segments(3)
        .resume(checkpoint.clone());
    while let Some(page) = resumed.next_page().await? {
        got.extend(page);
    }
    assert!(resumed.is_done());
    let keys: BTreeSet<(String, String)> = got
        .iter()
        .map(|e| (e.stored_pk().to_owned(), e.stored_sk().to_owned()))
        .collect();
    assert_eq!(keys, want, "every item once, none of another tenant");
    assert_eq!(got.len(), want.len());
    let constraints = got
        .iter()
        .filter(|e| matches!(e.kind, ExportedKind::Constraint { .. }))
        .count();
    assert_eq!(constraints, 6, "one per member email");
    let user = got
        .iter()
        .find(|e| e.model == Some("User"))
        .expect("a user");
    assert!(user.attributes.contains_key("email"));
    assert!(user.attributes.keys().all(|k| !k.starts_with('_')));

    // Checkpoints are sealed and bound to the tenant and the export.
    let foreign = registry
        .export(&tenants[0])
        .page_size(7)
        .segments(3)
        .resume(checkpoint.clone());
    assert!(matches!(
        foreign.count().await,
        Err(Error::InvalidCursor { .. })
    ));
    let other_plan = registry.export(t).segments(2).resume(checkpoint.clone());
    assert!(matches!(
        other_plan.count().await,
        Err(Error::InvalidCursor { .. })
    ));
    let mut edited = checkpoint.into_bytes();
    let last = edited.len() - 2;
    edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
    let edited = registry
        .export(t)
        .segments(3)
        .resume(String::from_utf8(edited).expect("ascii"));
    assert!(matches!(
        edited.count().await,
        Err(Error::InvalidCursor { .. })
    ));

    // The stream gives the same items, paced.
    use futures::TryStreamExt;
    let streamed: Vec<_> = registry
        .export(t)
        .max_requests_per_second(200)
        .stream()
        .try_collect()
        .await?;
    assert_eq!(streamed.len(), want.len());
    Ok(())
}

/// Iterable models: their tenant's items are found through the bucketed index.
#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "rgx")]
#[bao(iterable(gsi = 5, buckets = 4))]
#[bao(unique(name = "by_code", field = "code"))]
pub struct Voucher {
    #[bao(pk)]
    pub id: String,
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "rgy")]
#[bao(iterable(gsi = 4, buckets = 2))]
pub struct Ledger {
    #[bao(pk)]
    pub account: String,
    #[bao(sk)]
    pub at: DateTime<Utc>,
    pub amount: i64,
}

#[tokio::test]
async fn export_of_iterable_models_reads_no_other_tenant() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let registry = Registry::new(&db)?;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    for tenant in [&t, &other] {
        TenantContext::run_with_tenant(tenant.clone(), async {
            for i in 0..9 {
                Voucher::create(
                    &db,
                    Voucher {
                        id: format!("v{i}"),
                        code: format!("C{i}"),
                    },
                )
                .await?;
                Ledger::create(
                    &db,
                    Ledger {
                        account: "a".into(),
                        at: Utc::now(),
                        amount: i,
                    },
                )
                .await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    }
    let want = stored_keys(&tenant_items(&db, &t).await);
    assert_eq!(want.len(), 27, "9 vouchers, 9 codes, 9 ledger lines");
    let before = counter.operations().len();
    let mut export = registry
        .export(&t)
        .model::<Voucher>()
        .model::<Ledger>()
        .page_size(4);
    let mut got = BTreeSet::new();
    let mut checkpoint = None;
    while let Some(page) = export.next_page().await? {
        for e in page {
            assert!(got.insert((e.stored_pk().to_owned(), e.stored_sk().to_owned())));
        }
        if checkpoint.is_none() {
            checkpoint = Some(export.checkpoint()?);
        }
    }
    assert_eq!(got, want);
    let ops = &counter.operations()[before..];
    assert!(
        !ops.is_empty() && ops.iter().all(|o| o == "Query"),
        "{ops:?}"
    );
    let resumed = registry
        .export(&t)
        .model::<Voucher>()
        .model::<Ledger>()
        .page_size(4)
        .resume(checkpoint.expect("a checkpoint"))
        .count()
        .await?;
    assert!(resumed > 0 && resumed < 27, "{resumed}");
    Ok(())
}

#[tokio::test]
async fn offboarding_removes_one_tenant_and_resumes_after_a_crash() -> R {
    let db = fresh_db().await?;
    let registry = Registry::new(&db)?;
    let tenants: Vec<TenantId> = (0..3).map(|_| fresh_tenant()).collect();
    for t in &tenants {
        let label = fresh_label();
        registry
            .provision(NewTenant::new(t.as_str(), "O").subdomain(label.as_str()))
            .await?;
        registry
            .add_domain(t, &format!("{label}.example.test"))
            .await?;
        registry.issue_api_key(t, "ci").await?;
        populate(&db, t, 8).await?;
    }
    let gone = &tenants[1];
    let key = registry.issue_api_key(gone, "second").await?;
    // An item of the tenant in no layout dynabao writes (an older version's, say) goes too.
    raw_put(
        &db,
        Item::from([
            ("_pk".to_owned(), av_s(format!("[{gone}]#legacy"))),
            ("_sk".to_owned(), av_s(format!("[{gone}]#x"))),
        ]),
    )
    .await;
    let kept: Vec<BTreeSet<_>> = {
        let mut v = Vec::new();
        for t in [&tenants[0], &tenants[2]] {
            let mut all = tenant_items(&db, t).await;
            all.extend(registry_items(&db, t).await);
            v.push(stored_keys(&all));
        }
        v
    };
    let before = tenant_items(&db, gone).await.len() as u64;
    assert!(before >= 8 * 6);
    assert_eq!(
        registry_items(&db, gone).await.len(),
        1 + 2 + 2,
        "record, two hosts, two keys"
    );

    // Two pages, then the process "dies" (the offboarding is dropped).
    {
        let mut job = registry
            .offboarding_with(gone, |e| e.page_size(10).segments(2))
            .await?;
        for _ in 0..2 {
            assert!(matches!(job.step().await?, OffboardProgress::More { .. }));
        }
    }
    let left = tenant_items(&db, gone).await.len() as u64;
    assert!(left < before && left > 0, "{left} of {before}");
    assert_eq!(
        registry.get(gone).await?.map(|r| r.status),
        Some(TenantStatus::Offboarding)
    );
    let refused = registry.issue_api_key(gone, "late").await;
    assert!(
        matches!(refused, Err(Error::InvalidInput { .. })),
        "{refused:?}"
    );

    // Another process resumes it from the stored checkpoint and finishes.
    let other_process = Registry::new(&db)?;
    let report = other_process
        .offboarding_with(gone, |e| e.page_size(10).segments(2))
        .await?
        .run()
        .await?;
    assert_eq!(report.deleted, before, "every item deleted once");
    assert_eq!((report.api_keys, report.hosts), (2, 2));
    assert!(
        tenant_items(&db, gone).await.is_empty(),
        "nothing of the tenant left"
    );
    assert!(
        registry_items(&db, gone).await.is_empty(),
        "no record, host or key left"
    );
    assert_eq!(other_process.get(gone).await?, None);
    assert_eq!(other_process.tenant_of_api_key(key.secret()).await?, None);
    for (t, want) in [&tenants[0], &tenants[2]].into_iter().zip(&kept) {
        let mut all = tenant_items(&db, t).await;
        all.extend(registry_items(&db, t).await);
        assert_eq!(&stored_keys(&all), want, "other tenants untouched");
    }
    let again = registry.offboard(gone).await;
    assert!(matches!(again, Err(Error::NotFound { .. })), "{again:?}");
    Ok(())
}

#[tokio::test]
async fn an_offboarding_that_fails_midway_loses_nothing_and_resumes() -> R {
    let faults = dynabao::testkit::FaultInjector::new();
    let db = dynabao::testkit::fresh_db_with_faults(&faults, &RequestCounter::new())
        .await?
        .with_retry(
            dynabao::RetryPolicy::new()
                .with_max_attempts(2)
                .with_base_delay(Duration::from_millis(1)),
        );
    let registry = Registry::new(&db)?;
    let t = fresh_tenant();
    registry.provision(NewTenant::new(t.as_str(), "F")).await?;
    populate(&db, &t, 5).await?;
    let before = tenant_items(&db, &t).await.len() as u64;
    let mut job = registry
        .offboarding_with(&t, |e| e.page_size(8).segments(1))
        .await?;
    assert!(matches!(job.step().await?, OffboardProgress::More { .. }));
    faults.unprocessed_always();
    let failed = job.step().await;
    match failed {
        Err(Error::BatchIncomplete {
            ref unprocessed, ..
        }) => assert!(!unprocessed.is_empty()),
        other => panic!("{other:?}"),
    }
    faults.clear();
    let report = registry.offboard(&t).await?;
    assert_eq!(report.deleted, before);
    assert!(tenant_items(&db, &t).await.is_empty());
    assert!(registry_items(&db, &t).await.is_empty());
    Ok(())
}
