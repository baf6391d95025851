//! Attacks on the isolation of stored data (issue 8, items 1, 3, 5, 6 and the `_ttl` part of 7):
//! reserved attributes planted through serde, counts of items a read refuses, stored items
//! decoded as another model, models sharing a prefix, and writes reported as failed although
//! DynamoDB applied them.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use dynabao::testkit::{assert_unique_prefixes, fresh_db, fresh_tenant};
use dynabao::{Db, Error, Item, Model, TenantContext, TenantId};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

/// A model with a "custom fields" map that an API fills from a request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "iprof")]
#[bao(index(by_team(gsi = 2, pk = "team")))]
pub struct Profile {
    #[bao(pk)]
    pub id: String,
    pub team: Option<String>,
    #[bao(version)]
    pub version: u64,
    #[serde(flatten)]
    pub custom: BTreeMap<String, String>,
}

fn profile(id: &str, team: Option<&str>, custom: &[(&str, &str)]) -> Profile {
    Profile {
        id: id.into(),
        team: team.map(str::to_owned),
        version: 0,
        custom: custom
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// A model whose `Serialize` is written by hand (and plants a key attribute).
#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[bao(prefix = "imanual")]
pub struct Manual {
    #[bao(pk)]
    pub id: String,
    pub planted: String,
}

impl Serialize for Manual {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry(&self.planted, "x")?;
        map.end()
    }
}

/// Every attribute name the crate stores, plus ones it keeps free.
const RESERVED: &[&str] = &[
    "_pk",
    "_sk",
    "_gsi1_pk",
    "_gsi2_pk",
    "_gsi2_sk",
    "_gsi5_pk",
    "_gsi5_sk",
    "_ttl",
    "_owner_pk",
    "_owner_sk",
    "_future",
];

fn reserved_refusal(r: Result<impl std::fmt::Debug, Error>, name: &str) {
    match r {
        Err(Error::ReservedAttribute { attr, .. }) => assert_eq!(attr, name),
        other => panic!("{name}: expected ReservedAttribute, got {other:?}"),
    }
}

#[tokio::test]
async fn reserved_attributes_in_a_flattened_map_are_refused_by_every_write() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let victim = format!("[{b}]#iprof#x");
    TenantContext::run_with_tenant(a.clone(), async {
        for name in RESERVED {
            let attack = || profile("p1", None, &[(name, victim.as_str())]);
            reserved_refusal(Profile::create(&db, attack()).await, name);
            reserved_refusal(Profile::put(&db, attack()).await, name);
            reserved_refusal(Profile::replace(&db, attack()).await, name);
            reserved_refusal(db.batch_write().put(attack()).await, name);
            reserved_refusal(db.transact_write().put(attack()).await, name);
            reserved_refusal(db.transact_write().create(attack()).await, name);
        }
        // A hand-written Serialize is checked the same way.
        for name in RESERVED {
            let manual = Manual {
                id: "m1".into(),
                planted: (*name).to_owned(),
            };
            reserved_refusal(Manual::create(&db, manual.clone()).await, name);
            reserved_refusal(db.batch_write().put(manual).await, name);
        }
        Ok::<_, Error>(())
    })
    .await?;
    // Nothing was stored, in any partition.
    assert!(raw_scan(&db).await.is_empty());
    // The victim's index partition is clean: its queries and counts work.
    TenantContext::run_with_tenant(b, async {
        assert!(Profile::query_by_team(&db, "x").all().await?.is_empty());
        assert_eq!(Profile::query_by_team(&db, "x").count().await?, 0);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn a_flattened_map_cannot_override_a_field() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        for name in ["version", "id", "team"] {
            let attack = profile("p1", Some("core"), &[(name, "999")]);
            match Profile::create(&db, attack.clone()).await {
                Err(Error::DuplicateAttribute { attr, .. }) => assert_eq!(attr, name),
                other => panic!("{name}: {other:?}"),
            }
            assert!(matches!(
                db.batch_write().put(attack).await,
                Err(Error::DuplicateAttribute { .. })
            ));
        }
        // Custom fields that name nothing of the crate's or the model's are stored and read back.
        let fine = Profile::create(&db, profile("p1", Some("core"), &[("color", "red")])).await?;
        assert_eq!(fine.version, 1);
        assert_eq!(Profile::find(&db, "p1").await?, Some(fine));
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(raw_scan(&db).await.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_absent_index_half_is_not_written() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        Profile::create(&db, profile("p1", None, &[])).await?;
        Profile::put(&db, profile("p2", None, &[])).await?;
        db.batch_write().put(profile("p3", None, &[])).await?;
        Ok::<_, Error>(())
    })
    .await?;
    let items = raw_scan(&db).await;
    assert_eq!(items.len(), 3);
    for item in items {
        // `team` is None: the index partition key is absent (the sort half of an index without
        // sort fields is a fixed marker, so the item is in no index partition).
        assert!(!item.contains_key("_gsi2_pk"), "{item:?}");
        let names: Vec<&String> = item.keys().filter(|k| k.starts_with('_')).collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// counts agree with reads

/// An iterable model with an index, for counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "isig")]
#[bao(index(by_kind(gsi = 1, pk = "kind")))]
#[bao(iterable(gsi = 5, buckets = 1))]
pub struct Signal {
    #[bao(pk)]
    pub id: String,
    pub kind: String,
}

fn signal(id: &str) -> Signal {
    Signal {
        id: id.into(),
        kind: "login".into(),
    }
}

fn av(s: &str) -> AttributeValue {
    AttributeValue::S(s.to_owned())
}

/// An item in `a`'s `by_kind = login` partition and iteration bucket whose own keys are
/// `owner`'s, of model prefix `prefix`.
fn planted(a: &TenantId, owner: &TenantId, prefix: &str, bucket: &str) -> Item {
    Item::from([
        ("_pk".to_owned(), av(&format!("[{owner}]#{prefix}#planted"))),
        ("_sk".to_owned(), av(&format!("[{owner}]#{prefix}#_"))),
        ("_gsi1_pk".to_owned(), av(&format!("[{a}]#isig#login"))),
        ("_gsi1_sk".to_owned(), av(&format!("[{a}]#isig#_"))),
        ("_gsi5_pk".to_owned(), av(bucket)),
        ("_gsi5_sk".to_owned(), av(&format!("[{a}]#isig#planted#_"))),
        ("id".to_owned(), av("planted")),
        ("kind".to_owned(), av("login")),
    ])
}

async fn seeded(db: &Db, a: &TenantId) -> R<String> {
    TenantContext::run_with_tenant(a.clone(), async {
        Signal::create(db, signal("s1")).await?;
        Signal::create(db, signal("s2")).await?;
        Ok::<_, Error>(())
    })
    .await?;
    let stored = raw_get(db, &format!("[{a}]#isig#s1"), &format!("[{a}]#isig#_"))
        .await
        .expect("stored");
    Ok(s(&stored, "_gsi5_pk").expect("bucket").to_owned())
}

#[tokio::test]
async fn count_refuses_another_tenants_item_as_a_read_does() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let bucket = seeded(&db, &a).await?;
    raw_put(&db, planted(&a, &b, "isig", &bucket)).await;
    TenantContext::run_with_tenant(a, async {
        let all = Signal::query_by_kind(&db, "login").all().await;
        assert!(matches!(all, Err(Error::CrossTenant { .. })), "{all:?}");
        let count = Signal::query_by_kind(&db, "login").count().await;
        assert!(matches!(count, Err(Error::CrossTenant { .. })), "{count:?}");
        let iterated = Signal::iterate(&db).all().await;
        assert!(
            matches!(iterated, Err(Error::CrossTenant { .. })),
            "{iterated:?}"
        );
        let count = Signal::iterate(&db).count().await;
        assert!(matches!(count, Err(Error::CrossTenant { .. })), "{count:?}");
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn count_skips_another_models_item_as_a_read_does() -> R {
    let db = fresh_db().await?;
    let a = fresh_tenant();
    let bucket = seeded(&db, &a).await?;
    raw_put(&db, planted(&a, &a, "other", &bucket)).await;
    TenantContext::run_with_tenant(a, async {
        let read = Signal::query_by_kind(&db, "login").all().await?;
        assert_eq!(read.len(), 2);
        assert_eq!(Signal::query_by_kind(&db, "login").count().await?, 2);
        // With pages of one item, too.
        assert_eq!(
            Signal::query_by_kind(&db, "login").limit(1).count().await?,
            2
        );
        assert_eq!(Signal::iterate(&db).all().await?.len(), 2);
        assert_eq!(Signal::iterate(&db).count().await?, 2);
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// stored items of failed conditions decode only as their model

/// Two models of the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "iacct")]
pub struct Account {
    #[bao(pk)]
    pub id: String,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "iledg")]
pub struct Ledger {
    #[bao(pk)]
    pub id: String,
    pub owner: String,
}

#[tokio::test]
async fn current_item_decodes_only_as_the_written_model() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let acct = Account::create(
            &db,
            Account {
                id: "a1".into(),
                owner: "ada".into(),
            },
        )
        .await?;
        let err = Account::update(&db, "a1")
            .set(Account::OWNER, "eve")
            .condition(Account::OWNER.eq("bob"))
            .await
            .unwrap_err();
        assert_eq!(
            err.current_item::<Account>().transpose()?,
            Some(acct.clone())
        );
        assert!(err.current_item::<Ledger>().is_none(), "{err:?}");

        let err = Account::delete(&db, "a1")
            .condition(Account::OWNER.eq("bob"))
            .await
            .unwrap_err();
        assert!(err.current_item::<Ledger>().is_none());
        assert_eq!(
            err.current_item::<Account>().transpose()?,
            Some(acct.clone())
        );

        // Transaction reasons: the same rule.
        let err = db
            .transact_write()
            .create(Ledger {
                id: "l1".into(),
                owner: "ada".into(),
            })
            .check(Account::key("a1"), Account::OWNER.eq("bob"))
            .await
            .unwrap_err();
        let reasons = err.transaction_reasons().expect("reasons");
        assert!(reasons[1].current_item::<Ledger>().is_none());
        assert_eq!(
            reasons[1].current_item::<Account>().transpose()?,
            Some(acct)
        );
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// writes DynamoDB applied are reported as applied

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "ilease")]
pub struct Lease {
    #[bao(pk)]
    pub id: String,
    pub note: String,
    #[bao(ttl)]
    pub until: Option<DateTime<Utc>>,
}

/// A lease whose stored `_ttl` another program set to something that is not epoch seconds.
async fn broken_lease(db: &Db, t: &TenantId) -> R<(String, String)> {
    TenantContext::run_with_tenant(t.clone(), async {
        Lease::create(
            db,
            Lease {
                id: "l1".into(),
                note: "a".into(),
                until: Some(Utc::now()),
            },
        )
        .await
    })
    .await?;
    let (pk, sk) = (format!("[{t}]#ilease#l1"), format!("[{t}]#ilease#_"));
    db.client()
        .update_item()
        .table_name(db.table())
        .key("_pk", av(&pk))
        .key("_sk", av(&sk))
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "_ttl")
        .expression_attribute_values(":t", AttributeValue::N("1.5".into()))
        .send()
        .await
        .expect("raw update");
    Ok((pk, sk))
}

fn written_not_decoded<T: std::fmt::Debug>(r: Result<T, Error>, operation: &str) {
    let e = r.expect_err("the decode fails");
    assert!(e.is_written(), "{e:?}");
    assert_eq!(e.code(), "written_not_decoded");
    match e {
        Error::WrittenNotDecoded {
            operation: op,
            source,
            ..
        } => {
            assert_eq!(op, operation);
            assert!(matches!(*source, Error::MalformedItem { .. }), "{source:?}");
        }
        other => panic!("expected WrittenNotDecoded, got {other:?}"),
    }
}

#[tokio::test]
async fn an_applied_update_or_delete_of_an_undecodable_item_says_it_was_applied() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let (pk, sk) = broken_lease(&db, &t).await?;
    TenantContext::run_with_tenant(t.clone(), async {
        // A read reports the decode failure: that is where it belongs.
        let found = Lease::find(&db, "l1").await;
        assert!(
            matches!(found, Err(Error::MalformedItem { .. })),
            "{found:?}"
        );
        written_not_decoded(
            Lease::update(&db, "l1").set(Lease::NOTE, "b").await,
            "UpdateItem",
        );
        Ok::<_, Error>(())
    })
    .await?;
    let stored = raw_get(&db, &pk, &sk).await.expect("still stored");
    assert_eq!(s(&stored, "note"), Some("b"), "the update was applied");
    TenantContext::run_with_tenant(t, async {
        written_not_decoded(Lease::delete(&db, "l1").await, "DeleteItem");
        Ok::<_, Error>(())
    })
    .await?;
    assert!(
        raw_get(&db, &pk, &sk).await.is_none(),
        "the delete was applied"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// prefixes

#[test]
fn every_model_of_the_suite_has_its_own_prefix() {
    // This found `Doc` of query.rs and `Doc` of models_tx.rs sharing "doc", and models_tx's
    // `Note` sharing "note" with the examples' notes API.
    assert_unique_prefixes();
    // The check saw the suite's models (it would pass vacuously on an empty registry).
    let names: Vec<&str> = dynabao::model::registry::registered()
        .map(|r| r.schema.name())
        .collect();
    for model in ["Profile", "Signal", "User", "Doc", "Note"] {
        assert!(names.contains(&model), "{model} not registered: {names:?}");
    }
}
