//! Throttling and unprocessed items injected by an SDK interceptor: nothing is lost, retries
//! are bounded by the policy, and what is left after the budget is reported item by item.

use std::collections::BTreeSet;
use std::future::IntoFuture;
use std::time::Duration;

use dynabao::batch::UnprocessedRequest;
use dynabao::testkit::{fresh_db_with_faults, fresh_tenant, FaultInjector, RequestCounter};
use dynabao::{Error, Loader, RetryPolicy, TenantContext};
use futures::future::try_join_all;

use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

/// Fast retries for tests: `attempts` attempts, 1..=8 ms waits.
fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(8))
}

#[tokio::test]
async fn throttled_single_operations_are_retried_within_the_budget() -> R {
    let faults = FaultInjector::new();
    let counter = RequestCounter::new();
    let db = fresh_db_with_faults(&faults, &counter)
        .await?
        .with_retry(fast(4));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // Three throttles, then success: 4 requests, the write applied once.
        faults.throttle_next_of("PutItem", 3);
        let before = counter.count();
        Tally::create(&db, Tally::new("a")).await?;
        assert_eq!(counter.count() - before, 4);
        assert_eq!(faults.throttled(), 3);

        faults.throttle_next_of("UpdateItem", 2);
        let t = Tally::update(&db, "a").add(Tally::HITS, 1).await?;
        assert_eq!(
            t.hits, 1,
            "a throttled update is not applied, the retry is: one increment"
        );

        faults.throttle_next_of("GetItem", 3);
        assert_eq!(Tally::find(&db, "a").await?.unwrap().hits, 1);

        Note::create(
            &db,
            Note {
                folder: "f".into(),
                n: 1,
                text: "x".into(),
            },
        )
        .await?;
        faults.throttle_next_of("Query", 1);
        assert_eq!(Note::query(&db, "f").all().await?.len(), 1);

        // More throttles than attempts: the error after exactly max_attempts requests.
        faults.throttle_next_of("UpdateItem", 10);
        let before = counter.count();
        let r = Tally::update(&db, "a").add(Tally::HITS, 1).await;
        assert_eq!(counter.count() - before, 4, "bounded by the policy");
        let e = r.unwrap_err();
        assert!(e.is_throttled(), "{e:?}");
        assert_eq!(e.code(), "dynamodb");
        faults.clear();
        assert_eq!(
            Tally::find(&db, "a").await?.unwrap().hits,
            1,
            "nothing applied"
        );

        // RetryPolicy::none sends once.
        let once = db.with_retry(RetryPolicy::none());
        faults.throttle_next_of("GetItem", 1);
        let before = counter.count();
        assert!(Tally::find(&once, "a").await.unwrap_err().is_throttled());
        assert_eq!(counter.count() - before, 1);

        // Transactions too.
        faults.throttle_next_of("TransactWriteItems", 2);
        db.transact_write()
            .update(|db| Tally::update(db, "a").add(Tally::HITS, 10))
            .await?;
        faults.throttle_next_of("TransactGetItems", 2);
        let mut read = db.transact_get();
        let slot = read.get(Tally::key("a")?);
        assert_eq!(read.await?.get(slot)?.unwrap().hits, 11);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unprocessed_batch_items_are_resent_until_done() -> R {
    let faults = FaultInjector::new();
    let counter = RequestCounter::new();
    let db = fresh_db_with_faults(&faults, &counter)
        .await?
        .with_retry(fast(10));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // Every batch request holds back half its items: 25 -> 12 -> 6 -> 3 -> 1 -> 0 held,
        // 5 requests per chunk of 25.
        faults.unprocessed_always();
        let before = counter.count();
        db.batch_write().puts((0..100).map(Doc::new)).await?;
        let sent = counter.count() - before;
        eprintln!(
            "retry: 100 puts with half of every batch held back -> {sent} BatchWriteItem \
             requests, {} items resent",
            faults.held_back()
        );
        assert_eq!(sent, 4 * 5, "4 chunks, 5 rounds each");
        assert_eq!(raw_scan(&db).await.len(), 100, "nothing lost");

        let held = faults.held_back();
        let keys = (0..100u32)
            .map(|i| Doc::key(&i))
            .collect::<Result<Vec<_>, _>>()?;
        let before = counter.count();
        let found = db.batch_find(keys).await?;
        let sent = counter.count() - before;
        eprintln!(
            "retry: 100 finds with half held back -> {sent} BatchGetItem requests, {} keys resent",
            faults.held_back() - held
        );
        assert_eq!(sent, 7, "held back: 50, 25, 12, 6, 3, 1, 0: 7 rounds");
        assert!(found
            .iter()
            .enumerate()
            .all(|(i, d)| d.as_ref().map(|d| d.id) == Some(i as u32)));

        // The loader resends too.
        let found = Loader::scope(try_join_all(
            (0..100u32).map(|i| Doc::find(&db, &i).into_future()),
        ))
        .await?;
        assert!(found.iter().all(Option::is_some));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn what_is_left_after_the_budget_is_reported_and_exactly_that_is_missing() -> R {
    let faults = FaultInjector::new();
    let counter = RequestCounter::new();
    let db = fresh_db_with_faults(&faults, &counter)
        .await?
        .with_retry(fast(3));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        faults.unprocessed_always();
        // 25 items, 3 rounds: 25 sent -> 12 held; 12 -> 6; 6 -> 3 held and reported.
        let before = counter.count();
        let r = db.batch_write().puts((0..25).map(Doc::new)).await;
        assert_eq!(counter.count() - before, 3, "bounded: 3 rounds");
        let (unprocessed, source) = match r {
            Err(Error::BatchIncomplete {
                operation: "BatchWriteItem",
                unprocessed,
                source,
            }) => (unprocessed, source),
            other => panic!("{other:?}"),
        };
        assert!(
            source.is_none(),
            "the budget ran out; no error stopped the batch"
        );
        assert_eq!(unprocessed.len(), 3);
        let left: BTreeSet<String> = unprocessed
            .iter()
            .map(|u| {
                assert_eq!(u.model, "Doc");
                match &u.request {
                    UnprocessedRequest::Put { item } => s(item, "_pk").unwrap().to_owned(),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let stored: BTreeSet<String> = raw_scan(&db)
            .await
            .iter()
            .map(|i| s(i, "_pk").unwrap().to_owned())
            .collect();
        assert_eq!(stored.len(), 22);
        assert!(stored.is_disjoint(&left), "reported items were not written");
        // Positions name the items as they were added.
        for u in &unprocessed {
            let UnprocessedRequest::Put { item } = &u.request else {
                unreachable!()
            };
            assert_eq!(item.get("id"), Some(&av_n(u.position)));
        }

        // Reads: 16 distinct keys and a duplicate, 3 rounds: 16 -> 8 held -> 4 held -> 2 left
        // (keys 7 and 15), reported at every position they were asked at.
        let mut ids: Vec<u32> = (0..16).collect();
        ids.push(15);
        let keys = ids.iter().map(Doc::key).collect::<Result<Vec<_>, _>>()?;
        let before = counter.count();
        let r = db.batch_find(keys).await;
        assert_eq!(counter.count() - before, 3);
        let unprocessed = match r {
            Err(e @ Error::BatchIncomplete { .. }) => {
                assert_eq!(e.code(), "batch_incomplete");
                let Error::BatchIncomplete { unprocessed, .. } = e else {
                    unreachable!()
                };
                unprocessed
            }
            other => panic!("{other:?}"),
        };
        let positions: Vec<usize> = unprocessed.iter().map(|u| u.position).collect();
        assert_eq!(positions, [7, 15, 16]);
        for u in &unprocessed {
            let UnprocessedRequest::Get { key } = &u.request else {
                panic!("{u:?}")
            };
            assert!(s(key, "_pk")
                .unwrap()
                .ends_with(&format!("#doc#{:016x}", ids[u.position])));
        }
        faults.clear();
        // Sending the batch again completes it.
        db.batch_write().puts((0..25).map(Doc::new)).await?;
        assert_eq!(raw_scan(&db).await.len(), 25);
        Ok::<_, Error>(())
    })
    .await
}
