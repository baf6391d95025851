//! The request-scoped loader: finds merged into the fewest BatchGetItem calls, a cache that
//! writes keep fresh, tenant-keyed, with consumed capacity summed per scope.

use std::time::Duration;

use std::future::IntoFuture;

use dynabao::testkit::{fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, Loader, TenantContext};
use futures::future::try_join_all;

use crate::models_tx::*;

type R<T = ()> = dynabao::Result<T>;

/// The batching window of the request-counting tests.
const WINDOW: Duration = Duration::from_millis(50);

async fn seed(db: &dynabao::Db, n: u32) -> R {
    db.batch_write().puts((0..n).map(Doc::new)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n_distinct_finds_cost_ceil_n_over_100_requests() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        seed(&db, 250).await?;
        for n in [1u32, 99, 100, 101, 250] {
            let before = counter.count();
            // A window wide enough for a loaded test machine to poll every find in it.
            let loader = Loader::new().with_window(WINDOW);
            let found = loader
                .run(try_join_all(
                    (0..n).map(|i| Doc::find(&db, &i).into_future()),
                ))
                .await?;
            let sent = counter.count() - before;
            eprintln!("loader: {n} distinct finds in one scope -> {sent} BatchGetItem requests");
            assert_eq!(sent, n.div_ceil(100) as usize, "{n} finds");
            assert!(found
                .iter()
                .enumerate()
                .all(|(i, d)| d.as_ref().map(|d| d.id) == Some(i as u32)));
            let stats = loader.stats();
            assert_eq!(stats.finds, n as u64);
            assert_eq!(stats.keys_loaded, n as u64);
        }

        // Identical keys are fetched once: 300 finds of 3 keys, plus one missing key.
        let before = counter.count();
        let loader = Loader::new().with_window(WINDOW);
        let found = loader
            .run(try_join_all(
                (0..300u32)
                    .map(|i| Doc::find(&db, &(i % 3)).into_future())
                    .chain([Doc::find(&db, &9999).into_future()]),
            ))
            .await?;
        assert_eq!(
            counter.count() - before,
            1,
            "one request for 4 distinct keys"
        );
        assert_eq!(found.len(), 301);
        assert_eq!(found[300], None);
        assert_eq!(found[4].as_ref().map(|d| d.id), Some(1));
        assert_eq!(loader.stats().keys_loaded, 4);

        // A second find of a cached key (present or missing) sends nothing.
        let before = counter.count();
        loader
            .run(async {
                assert_eq!(Doc::find(&db, &2).await?.map(|d| d.id), Some(2));
                assert_eq!(Doc::find(&db, &9999).await?, None);
                Ok::<_, Error>(())
            })
            .await?;
        assert_eq!(counter.count(), before, "answered from the cache");
        assert_eq!(loader.stats().cache_hits, 2);
        Ok::<_, Error>(())
    })
    .await
}

/// DynamoBao's bug: a write inside a scope left the cache stale. Here every write through
/// dynabao updates or evicts the key, so the next find sees it.
#[tokio::test]
async fn writes_inside_a_scope_never_leave_the_cache_stale() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let t = Tally::create(&db, Tally::new("a")).await?;
        Loader::scope(async {
            assert_eq!(Tally::find(&db, "a").await?.unwrap().hits, 0);

            // update: the item as written is cached, so the next find is fresh and free.
            Tally::update(&db, "a").add(Tally::HITS, 5).await?;
            let before = counter.count();
            assert_eq!(Tally::find(&db, "a").await?.unwrap().hits, 5);
            assert_eq!(counter.count(), before, "served from the updated cache");

            // put / replace
            let mut v = Tally::find(&db, "a").await?.unwrap();
            v.balance = 42;
            Tally::replace(&db, v).await?;
            assert_eq!(Tally::find(&db, "a").await?.unwrap().balance, 42);
            let mut p = t.clone();
            p.balance = -7;
            Tally::put(&db, p).await?;
            assert_eq!(Tally::find(&db, "a").await?.unwrap().balance, -7);

            // delete: known missing.
            Tally::delete(&db, "a").await?;
            assert_eq!(Tally::find(&db, "a").await?, None);

            // create after a cached miss.
            assert_eq!(Tally::find(&db, "b").await?, None);
            Tally::create(&db, Tally::new("b")).await?;
            assert!(Tally::find(&db, "b").await?.is_some());

            // A batch write updates the cache too.
            assert_eq!(Doc::find(&db, &1).await?, None);
            db.batch_write().put(Doc::new(1)).await?;
            assert_eq!(Doc::find(&db, &1).await?.map(|d| d.id), Some(1));
            db.batch_write().delete(Doc::key(&1)).await?;
            assert_eq!(Doc::find(&db, &1).await?, None);

            // A transaction: puts and deletes are known; its updates evict (read again,
            // consistently).
            db.transact_write()
                .put(Doc::new(2))
                .update(|db| Tally::update(db, "b").add(Tally::HITS, 3))
                .await?;
            assert_eq!(Doc::find(&db, &2).await?.map(|d| d.id), Some(2));
            assert_eq!(Tally::find(&db, "b").await?.unwrap().hits, 3);

            // A unique-keeping write (a transaction underneath) too.
            let m = Member::create(&db, Member::new("l@x.io")).await?;
            assert_eq!(Member::find(&db, &m.id).await?.unwrap().email, "l@x.io");
            Member::update(&db, &m.id)
                .set(Member::EMAIL, "l2@x.io")
                .await?;
            assert_eq!(Member::find(&db, &m.id).await?.unwrap().email, "l2@x.io");
            Member::delete(&db, &m.id).await?;
            assert_eq!(Member::find(&db, &m.id).await?, None);

            // A failed write changes nothing, and the cache still holds the stored item.
            let stale = Tally::update(&db, "b")
                .add(Tally::HITS, 1)
                .if_version(99)
                .await;
            assert!(matches!(stale, Err(Error::VersionConflict { .. })));
            assert_eq!(Tally::find(&db, "b").await?.unwrap().hits, 3);
            Ok::<_, Error>(())
        })
        .await
    })
    .await
}

/// Runs an action (once) after DynamoDB answered a BatchGetItem and before the SDK hands the
/// answer back: a write that lands between the read at DynamoDB and the loader's handling of
/// its answer.
#[derive(Clone, Default)]
struct WriteBetweenReadAndAnswer {
    action: std::sync::Arc<std::sync::Mutex<Option<Action>>>,
}

type Action = Box<dyn FnOnce() + Send>;

impl std::fmt::Debug for WriteBetweenReadAndAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteBetweenReadAndAnswer")
    }
}

#[derive(Debug, Clone)]
struct IsBatchGet;

impl aws_smithy_types::config_bag::Storable for IsBatchGet {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_sdk_dynamodb::config::Intercept for WriteBetweenReadAndAnswer {
    fn name(&self) -> &'static str {
        "WriteBetweenReadAndAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        if target.ends_with("BatchGetItem") {
            cfg.interceptor_state().store_put(IsBatchGet);
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if cfg.load::<IsBatchGet>().is_some() {
            let action = self.action.lock().unwrap().take();
            if let Some(action) = action {
                action();
            }
        }
        Ok(())
    }
}

/// DynamoBao's stale cache, the racy way: a read answered by DynamoDB before a write, but
/// handled after the write completed, must not put its older value into the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_racing_a_write_does_not_clobber_it() -> R {
    let counter = RequestCounter::new();
    let hook = WriteBetweenReadAndAnswer::default();
    let config = dynabao::testkit::sdk_config()
        .await?
        .interceptor(hook.clone());
    let client = aws_sdk_dynamodb::Client::from_conf(counter.attach(config).build());
    let db = dynabao::Db::new(
        client,
        dynabao::testkit::unique_name("t-"),
        dynabao::Tenancy::On,
    );
    db.create_table().await?;
    let tenant = fresh_tenant();
    TenantContext::run_with_tenant(tenant.clone(), async {
        Tally::create(&db, Tally::new("r")).await?;
        let loader = Loader::new();
        // The write, run to completion on a runtime of its own, inside the same loader scope
        // and tenant, while the loader's read answer is held.
        let (db2, loader2, tenant2) = (db.clone(), loader.clone(), tenant.clone());
        *hook.action.lock().unwrap() = Some(Box::new(move || {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(TenantContext::run_with_tenant(
                    tenant2,
                    loader2.run(async { Tally::update(&db2, "r").add(Tally::HITS, 1).await }),
                ))
                .unwrap();
            })
            .join()
            .unwrap();
        }));
        loader
            .run(async {
                let read = Tally::find(&db, "r").await?;
                assert_eq!(read.unwrap().hits, 0, "read before the write");
                assert!(
                    hook.action.lock().unwrap().is_none(),
                    "the write ran in between"
                );
                let before = counter.count();
                assert_eq!(
                    Tally::find(&db, "r").await?.unwrap().hits,
                    1,
                    "the write's value"
                );
                assert_eq!(counter.count(), before, "from the cache the write filled");
                Ok::<_, Error>(())
            })
            .await
    })
    .await
}

#[tokio::test]
async fn the_cache_is_keyed_by_tenant() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let (t1, t2) = (fresh_tenant(), fresh_tenant());
    let setup = counter.count();
    for (t, body) in [(&t1, "one"), (&t2, "two")] {
        TenantContext::run_with_tenant(t, async {
            Doc::create(
                &db,
                Doc {
                    id: 7,
                    body: body.into(),
                },
            )
            .await
        })
        .await?;
    }
    TenantContext::run_with_tenant(&t1, async {
        Loader::scope(async {
            assert_eq!(Doc::find(&db, &7).await?.unwrap().body, "one");
            let other = TenantContext::with_tenant(&t2, async { Doc::find(&db, &7).await }).await?;
            assert_eq!(other.unwrap().body, "two", "t2 never sees t1's cached item");
            assert_eq!(Doc::find(&db, &7).await?.unwrap().body, "one");
            // A write in t2 does not touch t1's entry.
            TenantContext::with_tenant(&t2, async {
                Doc::put(
                    &db,
                    Doc {
                        id: 7,
                        body: "two!".into(),
                    },
                )
                .await
            })
            .await?;
            assert_eq!(Doc::find(&db, &7).await?.unwrap().body, "one");
            let other = TenantContext::with_tenant(&t2, async { Doc::find(&db, &7).await }).await?;
            assert_eq!(other.unwrap().body, "two!");
            Ok::<_, Error>(())
        })
        .await
    })
    .await?;
    // Every request, the loader's spawned batches included, was sent in the tenant of the code
    // that asked: t1's finds in t1, the with_tenant ones in t2.
    let tenants = &counter.tenants()[setup..];
    // create, create, t1's find, t2's find, t2's put; the rest came from the cache.
    assert_eq!(
        tenants
            .iter()
            .map(|t| t.as_ref() == Some(&t1))
            .collect::<Vec<_>>(),
        [true, false, true, false, false],
        "{tenants:?}"
    );
    assert!(tenants
        .iter()
        .all(|t| t.as_ref() == Some(&t1) || t.as_ref() == Some(&t2)));
    Ok(())
}

#[tokio::test]
async fn capacity_is_summed_per_scope_and_consistent_finds_skip_the_cache() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let loader = Loader::new();
        loader
            .run(async {
                Doc::create(&db, Doc::new(1)).await?;
                Doc::find(&db, &1).await?;
                let before = counter.count();
                Doc::find(&db, &1).consistent().await?;
                assert_eq!(
                    counter.count(),
                    before + 1,
                    "a consistent find is always read"
                );
                Ok::<_, Error>(())
            })
            .await?;
        let c = loader.capacity();
        eprintln!("loader: capacity of one create + two finds: {c:?}");
        assert!(c.write_units >= 1.0, "{c:?}");
        assert!(c.read_units > 0.0, "{c:?}");
        // Outside a scope there is no loader, and finds are single GetItems.
        assert!(Loader::current().is_none());
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn errors_reach_every_waiter() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    // A table that does not exist: the batch fails, every find gets the error.
    let missing = db.with_table("no-such-table");
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let results = Loader::scope(futures::future::join_all(
            (0..3u32).map(|i| Doc::find(&missing, &i).into_future()),
        ))
        .await;
        for r in results {
            // Each waiter gets the variant itself, not a wrapper around a shared error.
            let e = r.unwrap_err();
            assert!(
                matches!(
                    &e,
                    Error::Dynamo {
                        operation: "BatchGetItem",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        // No tenant: fails closed inside a scope too, with nothing sent.
        Ok::<_, Error>(())
    })
    .await?;
    let sent = counter.count();
    let r = Loader::scope(Doc::find(&db, &1).into_future()).await;
    assert!(matches!(r, Err(Error::TenantRequired)));
    assert_eq!(counter.count(), sent);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_of_different_models_go_out_in_batches_of_their_own() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        seed(&db, 2).await?;
        Tally::create(&db, Tally::new("t")).await?;
        let loader = Loader::new().with_window(WINDOW);
        let (docs, tally) = loader
            .run(async {
                futures::try_join!(
                    try_join_all((0..2u32).map(|i| Doc::find(&db, &i).into_future())),
                    Tally::find(&db, "t").into_future(),
                )
            })
            .await?;
        assert!(docs.iter().all(Option::is_some));
        assert_eq!(tally.map(|t| t.id), Some("t".to_string()));
        // One batch per model: spans and errors of each batch name its own model.
        let stats = loader.stats();
        assert_eq!((stats.finds, stats.batches, stats.keys_loaded), (3, 2, 3));
        Ok::<_, Error>(())
    })
    .await
}
