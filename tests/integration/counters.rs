//! Atomic counters and sets through the typed update; empty sets stored as absent.

use dynabao::tenant::spawn_in_tenant;
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Error, NumberSet, StringSet, TenantContext};

use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_increments_all_land() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("c")).await?;
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let db = db.clone();
                spawn_in_tenant(async move {
                    if i % 2 == 0 {
                        Tally::update(&db, "c")
                            .add(Tally::HITS, 1)
                            .add(Tally::BALANCE, 3)
                            .await
                    } else {
                        Tally::update(&db, "c")
                            .add(Tally::HITS, 1)
                            .subtract(Tally::BALANCE, 1)
                            .await
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task")?;
        }
        let t = Tally::find(&db, "c").await?.unwrap();
        assert_eq!(t.hits, 100);
        assert_eq!(t.balance, 50 * 3 - 50);
        assert_eq!(t.version, 101, "every update bumped the version once");
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn subtract_works_on_unsigned_and_float_fields() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("s")).await?;
        let t = Tally::update(&db, "s")
            .add(Tally::HITS, 10)
            .add(Tally::RATIO, 1.5)
            .await?;
        assert_eq!((t.hits, t.ratio), (10, 1.5));
        let t = Tally::update(&db, "s")
            .subtract(Tally::HITS, 4)
            .subtract(Tally::RATIO, 0.25)
            .await?;
        assert_eq!((t.hits, t.ratio), (6, 1.25));
        // A guard keeps an unsigned counter from going negative.
        let r = Tally::update(&db, "s")
            .subtract(Tally::HITS, 7)
            .condition(Tally::HITS.ge(7u64))
            .await;
        assert!(matches!(r, Err(Error::ConditionFailed { .. })), "{r:?}");
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn sets_add_and_remove_atomically_and_empty_is_absent() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        // Created with empty sets: stored without the attributes (DynamoDB has no empty sets).
        Tally::create(&db, Tally::new("s")).await?;
        let raw = raw_get(&db, &format!("[{t}]#ctr#s"), &format!("[{t}]#ctr#_"))
            .await
            .unwrap();
        assert!(
            !raw.contains_key("tags") && !raw.contains_key("scores"),
            "{raw:?}"
        );
        let read = Tally::find(&db, "s").await?.unwrap();
        assert!(read.tags.is_empty() && read.scores.is_empty());

        let v = Tally::update(&db, "s")
            .add_to_set(Tally::TAGS, ["a".to_string(), "b".to_string()])
            .add_to_set(Tally::SCORES, [3, -1])
            .await?;
        assert_eq!(v.tags, StringSet::from_iter(["a", "b"]));
        assert_eq!(v.scores, NumberSet::from_iter([-1, 3]));
        let raw = raw_get(&db, &format!("[{t}]#ctr#s"), &format!("[{t}]#ctr#_"))
            .await
            .unwrap();
        assert!(matches!(
            raw.get("tags"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Ss(_))
        ));
        assert!(matches!(
            raw.get("scores"),
            Some(aws_sdk_dynamodb::types::AttributeValue::Ns(_))
        ));

        // Adding what is there keeps one; removing the last element removes the attribute.
        let v = Tally::update(&db, "s")
            .add_to_set(Tally::TAGS, ["b".to_string(), "c".to_string()])
            .remove_from_set(Tally::SCORES, [3, -1, 99])
            .await?;
        assert_eq!(v.tags, StringSet::from_iter(["a", "b", "c"]));
        assert!(v.scores.is_empty());
        let raw = raw_get(&db, &format!("[{t}]#ctr#s"), &format!("[{t}]#ctr#_"))
            .await
            .unwrap();
        assert!(!raw.contains_key("scores"));

        // Setting a set to empty removes it; adding nothing changes nothing.
        let v = Tally::update(&db, "s")
            .set(Tally::TAGS, StringSet::new())
            .await?;
        assert!(v.tags.is_empty());
        let v = Tally::update(&db, "s")
            .add_to_set(Tally::TAGS, Vec::<String>::new())
            .add(Tally::HITS, 1)
            .await?;
        assert!(v.tags.is_empty());
        // Only empty set changes: nothing to send.
        let r = Tally::update(&db, "s")
            .add_to_set(Tally::TAGS, Vec::<String>::new())
            .await;
        // The version bump alone is an update; the model is versioned, so it goes through.
        assert!(r.is_ok(), "{r:?}");
        // put/replace of a value with empty sets stores them absent too.
        let mut v = Tally::find(&db, "s").await?.unwrap();
        v.tags = StringSet::new();
        Tally::replace(&db, v).await?;
        let raw = raw_get(&db, &format!("[{t}]#ctr#s"), &format!("[{t}]#ctr#_"))
            .await
            .unwrap();
        assert!(!raw.contains_key("tags"));

        // Concurrent adds of different elements all land.
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let db = db.clone();
                spawn_in_tenant(async move {
                    Tally::update(&db, "s")
                        .add_to_set(Tally::TAGS, [format!("t{i}")])
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task")?;
        }
        assert_eq!(Tally::find(&db, "s").await?.unwrap().tags.len(), 20);
        Ok::<_, Error>(())
    })
    .await
}
