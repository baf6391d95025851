//! Transactions across models: all or nothing, typed cancellation reasons by position and
//! model, the 100-item limit, idempotency tokens, and TransactGetItems.

use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, TenantContext};
use ulid::Ulid;

use crate::models::*;
use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

#[tokio::test]
async fn a_transaction_across_models_applies_everything() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("a")).await?;
        Tally::create(&db, Tally::new("b")).await?;
        Doc::create(&db, Doc::new(9)).await?;
        let mut m = Member::new("tx@x.io");
        m.id = Ulid::new();
        db.transact_write()
            .create(Doc::new(1))
            .put(Note {
                folder: "f".into(),
                n: 1,
                text: "t".into(),
            })
            .update(|db| {
                Tally::update(db, "a")
                    .add(Tally::HITS, 2)
                    .add_to_set(Tally::TAGS, ["x".to_string()])
            })
            .delete(|db| Doc::delete(db, &9))
            .check(Tally::key("b"), Tally::HITS.eq(0u64))
            .create(m.clone())
            .await?;
        assert!(Doc::find(&db, &1).await?.is_some());
        assert!(Doc::find(&db, &9).await?.is_none());
        let t = Tally::find(&db, "a").await?.unwrap();
        assert_eq!((t.hits, t.version), (2, 2));
        assert!(t.tags.contains("x"));
        assert_eq!(Note::query(&db, "f").all().await?.len(), 1);
        // The member's constraint was claimed in the same transaction.
        assert_eq!(
            Member::find_by_email(&db, "tx@x.io").await?.map(|x| x.id),
            Some(m.id)
        );
        audit_constraints(&db).await;
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn a_cancelled_transaction_applies_nothing_and_says_which_item_failed() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("a")).await?;
        Tally::create(&db, Tally::new("b")).await?;
        Doc::create(&db, Doc::new(1)).await?;
        Member::create(&db, Member::new("taken@x.io")).await?;
        let before = raw_scan(&db).await;

        // Position 2's condition fails.
        let r = db
            .transact_write()
            .create(Doc::new(2))
            .update(|db| Tally::update(db, "a").add(Tally::HITS, 1))
            .check(Tally::key("b"), Tally::HITS.gt(100u64))
            .await;
        let e = r.unwrap_err();
        assert_eq!(e.code(), "transaction_canceled");
        assert!(e.is_condition_failed());
        let reasons = e.transaction_reasons().unwrap();
        assert_eq!(reasons.len(), 3);
        let failed: Vec<(usize, &str)> = reasons
            .iter()
            .filter(|r| r.is_failure())
            .map(|r| (r.position, r.model))
            .collect();
        assert_eq!(failed, [(2, "Tally")]);
        assert_eq!(reasons[2].code(), Some("ConditionalCheckFailed"));
        let stored: Tally = reasons[2].current_item().expect("the stored item").unwrap();
        assert_eq!(stored.hits, 0);

        // A create of an existing item and a taken unique value: both named.
        let r = db
            .transact_write()
            .create(Doc::new(1))
            .create(Member::new("taken@x.io"))
            .await;
        let e = r.unwrap_err();
        let failed: Vec<(usize, &str, Option<&str>)> = e
            .transaction_reasons()
            .unwrap()
            .iter()
            .filter(|r| r.is_condition_failed())
            .map(|r| (r.position, r.model, r.constraint))
            .collect();
        assert!(failed.contains(&(0, "Doc", None)), "{failed:?}");
        assert_eq!(e.unique_violation(), failed.iter().find_map(|f| f.2));

        assert_eq!(raw_scan(&db).await.len(), before.len(), "nothing applied");
        let t = Tally::find(&db, "a").await?.unwrap();
        assert_eq!(t.hits, 0);
        audit_constraints(&db).await;
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn limits_are_checked_before_sending() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let sent = counter.count();
        // 101 items.
        let r = (0..101)
            .fold(db.transact_write(), |tx, i| tx.put(Doc::new(i)))
            .await;
        assert!(
            matches!(
                r,
                Err(Error::TooManyItems {
                    operation: "TransactWriteItems",
                    count: 101,
                    limit: 100
                })
            ),
            "{r:?}"
        );
        // 99 members with a unique email each: 198 items.
        let r = (0..99)
            .fold(db.transact_write(), |tx, i| {
                tx.create(Member::new(&format!("{i}@x.io")))
            })
            .await;
        assert!(
            matches!(r, Err(Error::TooManyItems { count: 198, .. })),
            "{r:?}"
        );
        // Two operations on one item.
        let r = db
            .transact_write()
            .put(Doc::new(1))
            .delete(|db| Doc::delete(db, &1))
            .await;
        assert!(
            matches!(r, Err(Error::InvalidRequest { model: "Doc", .. })),
            "{r:?}"
        );
        // Empty.
        let r = db.transact_write().await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        // Invalid update (a key field) and invalid key value.
        let r = db
            .transact_write()
            .update(|db| Tally::update(db, "a"))
            .await;
        assert!(
            matches!(r, Err(Error::InvalidRequest { model: "Tally", .. })),
            "{r:?}"
        );
        let r = db
            .transact_write()
            .delete(|db| Reading::delete(db, "s", &1, &f64::NAN, &chrono::Utc::now()))
            .await;
        assert!(matches!(r, Err(Error::InvalidKeyValue { .. })), "{r:?}");
        // 101 keys to read.
        let mut read = db.transact_get();
        for i in 0..101u32 {
            read.get(Doc::key(&i)?);
        }
        let r = read.await;
        assert!(
            matches!(
                r,
                Err(Error::TooManyItems {
                    operation: "TransactGetItems",
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(counter.count(), sent, "nothing sent");
        Ok::<_, Error>(())
    })
    .await?;
    // No tenant.
    let sent = counter.count();
    let r = db.transact_write().put(Doc::new(1)).await;
    assert!(matches!(r, Err(Error::TenantRequired)), "{r:?}");
    let mut read = db.transact_get();
    read.get(Doc::key(&1)?);
    assert!(matches!(read.await, Err(Error::TenantRequired)));
    assert_eq!(counter.count(), sent);
    Ok(())
}

#[tokio::test]
async fn a_client_request_token_makes_a_resend_idempotent() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("a")).await?;
        let token = Ulid::new().to_string();
        for _ in 0..3 {
            db.transact_write()
                .update(|db| Tally::update(db, "a").add(Tally::HITS, 5))
                .client_request_token(&token)
                .await?;
        }
        assert_eq!(
            Tally::find(&db, "a").await?.unwrap().hits,
            5,
            "applied once"
        );
        let request = db
            .transact_write()
            .update(|db| Tally::update(db, "a").add(Tally::HITS, 5))
            .client_request_token(&token)
            .to_request()
            .await?;
        assert_eq!(request.client_request_token(), Some(token.as_str()));
        assert_eq!(request.transact_items().len(), 1);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn transact_get_reads_several_models_at_once() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let (t1, t2) = (fresh_tenant(), fresh_tenant());
    TenantContext::run_with_tenant(&t1, async {
        Doc::create(&db, Doc::new(1)).await?;
        Tally::create(&db, Tally::new("a")).await?;
        let before = counter.count();
        let mut read = db.transact_get();
        let doc = read.get(Doc::key(&1)?);
        let tally = read.get(Tally::key("a")?);
        let missing = read.get(Doc::key(&2)?);
        let again = read.get(Doc::key(&1)?);
        let request = read.to_request().await?;
        assert_eq!(
            request.transact_items().len(),
            3,
            "a key asked twice is read once"
        );
        let out = read.await?;
        assert_eq!(counter.count() - before, 1);
        assert_eq!(out.len(), 4);
        assert_eq!(out.get(doc)?, Some(Doc::new(1)));
        assert_eq!(out.get(tally)?.map(|t| t.id), Some("a".to_string()));
        assert_eq!(out.get(missing)?, None);
        assert_eq!(out.get(again)?, Some(Doc::new(1)));

        // A slot of another read is refused.
        let mut other = db.transact_get();
        let foreign = other.get(Doc::key(&1)?);
        let r = out.get(foreign);
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        Ok::<_, Error>(())
    })
    .await?;
    // The same keys in another tenant read nothing.
    TenantContext::run_with_tenant(&t2, async {
        let mut read = db.transact_get();
        let doc = read.get(Doc::key(&1)?);
        assert_eq!(read.await?.get(doc)?, None);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn a_conditional_put_joins_a_transaction_through_write() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("a")).await?;
        let refused = db
            .transact_write()
            .write(|db| Tally::put(db, Tally::new("a")).condition(Tally::HITS.eq(5u64)))
            .create(Doc::new(3))
            .await
            .unwrap_err();
        assert!(refused.is_condition_failed(), "{refused:?}");
        assert!(Doc::find(&db, &3).await?.is_none(), "all or nothing");
        db.transact_write()
            .write(|db| Tally::put(db, Tally::new("a")).condition(Tally::HITS.eq(0u64)))
            .create(Doc::new(3))
            .await?;
        assert!(Doc::find(&db, &3).await?.is_some());
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn an_operation_built_from_another_handle_is_refused_before_sending() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let other = db.with_table("another-table");
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("a")).await?;
        let before = counter.count();
        let err = db
            .transact_write()
            .update(|_| Tally::update(&other, "a").add(Tally::HITS, 1))
            .await
            .unwrap_err();
        match &err {
            Error::InvalidRequest { model, reason } => {
                assert_eq!(*model, "Tally");
                assert!(reason.contains("another-table"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let rendered = db
            .transact_write()
            .delete(|_| Tally::delete(&other, "a"))
            .to_request()
            .await;
        assert!(matches!(rendered, Err(Error::InvalidRequest { .. })));
        assert_eq!(counter.count(), before, "nothing was sent");
        assert_eq!(Tally::find(&db, "a").await?.map(|t| t.hits), Some(0));
        Ok::<_, Error>(())
    })
    .await
}
