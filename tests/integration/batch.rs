//! Batch reads and writes: chunking, order, duplicates, 1,000 items round-tripped, request
//! counts, tenant isolation and every error a caller can hit.

use std::collections::BTreeSet;
use std::future::IntoFuture;

use dynabao::batch::UnprocessedRequest;
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, TenantContext};

use crate::models::*;
use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_writes_and_reads_round_trip_every_item() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    let setup = counter.count();
    TenantContext::run_with_tenant(t.clone(), async {
        let before = counter.count();
        db.batch_write()
            .puts((0..1000).map(Doc::new))
            .concurrency(8)
            .await?;
        let writes = counter.count() - before;
        eprintln!("batch: 1000 puts -> {writes} BatchWriteItem requests");
        assert_eq!(writes, 40, "1000 / 25");

        let keys = (0..1000u32)
            .map(|i| Doc::key(&i))
            .collect::<Result<Vec<_>, _>>()?;
        let before = counter.count();
        let found = db.batch_find(keys).await?;
        let reads = counter.count() - before;
        eprintln!("batch: 1000 finds -> {reads} BatchGetItem requests");
        assert_eq!(reads, 10, "1000 / 100");
        assert_eq!(found.len(), 1000);
        for (i, d) in found.iter().enumerate() {
            assert_eq!(d.as_ref(), Some(&Doc::new(i as u32)), "position {i}");
        }
        // Raw: exactly 1000 items, all this tenant's.
        let raw = raw_scan(&db).await;
        assert_eq!(raw.len(), 1000);
        assert!(raw
            .iter()
            .all(|i| s(i, "_pk").unwrap().starts_with(&format!("[{t}]#doc#"))));

        // Delete them all in one batch.
        let keys = (0..1000u32)
            .map(|i| Doc::key(&i))
            .collect::<Result<Vec<_>, _>>()?;
        db.batch_write().deletes(keys).await?;
        assert!(raw_scan(&db).await.is_empty());
        Ok::<_, Error>(())
    })
    .await?;
    // Every request, from every spawned chunk, ran in the caller's tenant.
    let tenants = &counter.tenants()[setup..];
    assert!(tenants.len() >= 40 + 10 + 40, "{}", tenants.len());
    assert!(
        tenants.iter().all(|x| x.as_ref() == Some(&t)),
        "{tenants:?}"
    );
    Ok(())
}

#[tokio::test]
async fn batch_find_keeps_order_merges_duplicates_and_answers_none() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        db.batch_write()
            .puts([Doc::new(1), Doc::new(2), Doc::new(3)])
            .await?;
        let ids = [3u32, 404, 1, 3, 2, 1];
        let keys = ids.iter().map(Doc::key).collect::<Result<Vec<_>, _>>()?;
        let requests = db.batch_find(keys.clone()).to_requests().await?;
        assert_eq!(requests.len(), 1);
        let asked = requests[0].request_items().unwrap()[db.table()]
            .keys()
            .len();
        assert_eq!(asked, 4, "duplicates merged before sending");
        let before = counter.count();
        let found = db.batch_find(keys).await?;
        assert_eq!(counter.count() - before, 1);
        let got: Vec<Option<u32>> = found.iter().map(|d| d.as_ref().map(|d| d.id)).collect();
        assert_eq!(got, [Some(3), None, Some(1), Some(3), Some(2), Some(1)]);
        // Nothing asked: nothing sent.
        let before = counter.count();
        assert!(db
            .batch_find(Vec::<dynabao::Key<Doc>>::new())
            .await?
            .is_empty());
        assert_eq!(counter.count(), before);
        // 250 keys: 3 requests of at most 100.
        let keys = (0..250u32)
            .map(|i| Doc::key(&i))
            .collect::<Result<Vec<_>, _>>()?;
        let requests = db.batch_find(keys).consistent().to_requests().await?;
        let sizes: Vec<usize> = requests
            .iter()
            .map(|r| r.request_items().unwrap()[db.table()].keys().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(requests
            .iter()
            .all(|r| r.request_items().unwrap()[db.table()].consistent_read() == Some(true)));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn batch_write_mixes_models_puts_and_deletes() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        db.batch_write()
            .put(Doc::new(1))
            .put(Doc::new(2))
            .put(Note {
                folder: "f".into(),
                n: -1,
                text: "neg".into(),
            })
            .put(Note {
                folder: "f".into(),
                n: 5,
                text: "pos".into(),
            })
            .put(Plan {
                code: "pro".into(),
                price_cents: 900,
            })
            .await?;
        db.batch_write()
            .delete(Doc::key(&1))
            .delete(Note::key("f", &5))
            .put(Doc::new(3))
            .delete(Doc::key(&404))
            .await?;
        let docs = db
            .batch_find([Doc::key(&1)?, Doc::key(&2)?, Doc::key(&3)?])
            .await?;
        assert_eq!(
            docs.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, true, true]
        );
        let notes = Note::query(&db, "f").all().await?;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].n, -1);
        // The global model went to its global key.
        assert!(raw_get(&db, "plan#pro", "plan#_").await.is_some());
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn batch_reads_only_see_the_current_tenant() -> R {
    let db = fresh_db().await?;
    let (t1, t2) = (fresh_tenant(), fresh_tenant());
    TenantContext::run_with_tenant(
        &t1,
        db.batch_write().puts((0..5).map(Doc::new)).into_future(),
    )
    .await?;
    let other = TenantContext::run_with_tenant(&t2, async {
        db.batch_find(
            (0..5u32)
                .map(|i| Doc::key(&i))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .await
    })
    .await?;
    assert!(
        other.iter().all(Option::is_none),
        "t2 reads none of t1's items"
    );
    Ok(())
}

#[tokio::test]
async fn every_bad_batch_is_refused_before_anything_is_sent() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let sent = counter.count();
    // No tenant.
    let r = db.batch_write().put(Doc::new(1)).await;
    assert!(matches!(r, Err(Error::TenantRequired)), "{r:?}");
    let r = db.batch_find([Doc::key(&1)?]).await;
    assert!(matches!(r, Err(Error::TenantRequired)), "{r:?}");
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // An item over 400 KB, named by its key, even in the middle of a batch.
        let big = Doc {
            id: 77,
            body: "x".repeat(410 * 1024),
        };
        let r = db.batch_write().puts((0..30).map(Doc::new)).put(big).await;
        match &r {
            Err(Error::ItemTooLarge {
                model,
                key,
                size,
                limit,
            }) => {
                assert_eq!(*model, "Doc");
                assert!(key.contains("#doc#"), "{key}");
                assert!(*size > *limit && *limit == 400 * 1024);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.unwrap_err().code(), "item_too_large");
        // Two writes to one key.
        let r = db.batch_write().put(Doc::new(1)).delete(Doc::key(&1)).await;
        assert!(
            matches!(r, Err(Error::InvalidRequest { model: "Doc", .. })),
            "{r:?}"
        );
        // A key value that cannot be encoded.
        let r = db
            .batch_write()
            .put(Doc::new(1))
            .delete(Reading::key("s", &1, &f64::NAN, &chrono::Utc::now()))
            .await;
        assert!(
            matches!(r, Err(Error::InvalidKeyValue { field: "value", .. })),
            "{r:?}"
        );
        // A single put over the limit too.
        let big = Doc {
            id: 78,
            body: "x".repeat(410 * 1024),
        };
        assert!(matches!(
            Doc::put(&db, big).await,
            Err(Error::ItemTooLarge { .. })
        ));
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(counter.count(), sent, "nothing was sent");
    assert!(raw_scan(&db).await.is_empty(), "nothing was stored");
    Ok(())
}

#[tokio::test]
async fn to_requests_show_chunks_of_25() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let requests = db
            .batch_write()
            .puts((0..60).map(Doc::new))
            .to_requests()
            .await?;
        let sizes: Vec<usize> = requests
            .iter()
            .map(|r| r.request_items().unwrap()[db.table()].len())
            .collect();
        assert_eq!(sizes, [25, 25, 10]);
        let ids: BTreeSet<String> = requests
            .iter()
            .flat_map(|r| r.request_items().unwrap()[db.table()].clone())
            .map(|w| {
                s(w.put_request().unwrap().item(), "_pk")
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 60);
        Ok::<_, Error>(())
    })
    .await
}

#[test]
fn unprocessed_request_is_matchable() {
    // The public shape of what a BatchIncomplete carries.
    let r = UnprocessedRequest::Get {
        key: dynabao::Item::new(),
    };
    assert!(matches!(r, UnprocessedRequest::Get { .. }));
}
