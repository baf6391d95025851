//! Honest outcomes under faults injected at the SDK's HTTP layer (see
//! `dynabao::testkit::HttpFaults`): lost answers are retried, stalled requests time out, a retry
//! that meets its own effect reports success, an unknown outcome is `OutcomeUnknown`, never a
//! false definite answer, and a mixed workload reconciles against a raw scan.
//!
//! The reconciliation suite runs in quick mode under `cargo test` (24 tenants, 20 operations
//! each). Set `DYNABAO_FAULT_SUITE=long` for the long mode (24 tenants, 200 operations each),
//! and `DYNABAO_FAULT_SEED=<n>` to replay a run; it prints its figures (see them with
//! `cargo test --test integration faults:: -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use dynabao::batch::UnprocessedState;
use dynabao::testkit::{
    fresh_db_with_http_faults, fresh_tenant, sdk_config, ClosingServer, FaultInjector, HttpFault,
    HttpFaults, RequestCounter,
};
use dynabao::{Db, Error, Item, RetryPolicy, Tenancy, TenantContext, TenantId, Timeouts};
use ulid::Ulid;

use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .with_max_attempts(attempts)
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(8))
}

/// A handle on a fresh table whose requests go through `http` faults (and `faults` for
/// unprocessed batch items). The attempt timeout is short, so hung requests cost little, and
/// long enough for a loaded engine to answer every normal request.
async fn faulty_db(http: &HttpFaults, faults: &FaultInjector) -> R<Db> {
    let db = fresh_db_with_http_faults(http, faults, &RequestCounter::new()).await?;
    Ok(db.with_retry(fast(8)).with_timeouts(
        Timeouts::new()
            .with_attempt(Duration::from_secs(2))
            .with_operation(Duration::from_secs(30)),
    ))
}

// ----- item 1: a connection closed without an answer is retried -----

#[tokio::test]
async fn a_server_that_closes_the_connection_is_retried_up_to_the_budget() -> R {
    let server = ClosingServer::start().map_err(|e| Error::TestKit(e.to_string()))?;
    let config = sdk_config()
        .await?
        .endpoint_url(server.endpoint())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());

    // The shape the SDK gives for it, straight from a raw request.
    let raw = client
        .get_item()
        .table_name("t")
        .key("_pk", AttributeValue::S("k".into()))
        .key("_sk", AttributeValue::S("k".into()))
        .send()
        .await
        .unwrap_err();
    match &raw {
        aws_sdk_dynamodb::error::SdkError::DispatchFailure(f) => {
            assert!(!f.is_user(), "{raw:?}");
        }
        other => panic!("expected a dispatch failure, got {other:?}"),
    }
    assert_eq!(server.requests(), 1);

    let db = Db::new(client, "t", Tenancy::On).with_retry(fast(4));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // A read: sent exactly as often as the policy allows, then an error.
        assert!(Doc::find(&db, &1u32).await.is_err());
        assert_eq!(server.requests(), 1 + 4);
        // A write: the server read every attempt, so the outcome is unknown, and said so.
        let err = Doc::create(&db, Doc::new(1)).await.unwrap_err();
        assert!(err.is_outcome_unknown(), "{err:?}");
        assert_eq!(err.code(), "outcome_unknown");
        assert_eq!(server.requests(), 1 + 4 + 4);
        Ok(())
    })
    .await
}

// ----- items 2 and 3: time bounds and reconciled retries -----

#[tokio::test]
async fn lost_answers_are_reconciled_per_write() -> R {
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let db = faulty_db(&http, &faults).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // create: applied, answer lost; the retry meets its own item.
        http.next(HttpFault::DropAfterApply, 1);
        let doc = Doc::create(&db, Doc::new(1)).await?;
        assert_eq!(doc, Doc::new(1));
        // A create that meets another item after a lost answer cannot tell.
        Doc::put(
            &db,
            Doc {
                id: 2,
                body: "theirs".into(),
            },
        )
        .await?;
        http.next(HttpFault::DropBeforeApply, 1);
        let err = Doc::create(&db, Doc::new(2)).await.unwrap_err();
        assert!(err.is_outcome_unknown(), "{err:?}");
        assert!(matches!(
            err.unknown_outcome_source(),
            Some(Error::AlreadyExists { .. })
        ));
        // Without a lost answer it is definite.
        let err = Doc::create(&db, Doc::new(2)).await.unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");

        // if_version update: a 500 after applying; the retry meets version + 1 with its values.
        Tally::create(&db, Tally::new("a")).await?;
        http.next(HttpFault::ServerErrorAfterApply, 1);
        let t = Tally::update(&db, "a")
            .set(Tally::BALANCE, 7i64)
            .if_version(1)
            .await?;
        assert_eq!((t.version, t.balance), (2, 7));
        // A stale version without a lost answer is a definite conflict.
        let err = Tally::update(&db, "a")
            .set(Tally::BALANCE, 8i64)
            .if_version(1)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::VersionConflict { .. }), "{err:?}");

        // A hung attempt times out and is retried; the write lands once.
        http.next(HttpFault::HangAfterApply, 1);
        let t = Tally::update(&db, "a")
            .add(Tally::HITS, 1u64)
            .idempotency_key(Ulid::new().to_string())
            .await?;
        assert_eq!(t.hits, 1);
        http.next(HttpFault::HangBeforeApply, 2);
        let t = Tally::update(&db, "a")
            .add(Tally::HITS, 1u64)
            .idempotency_key(Ulid::new().to_string())
            .await?;
        assert_eq!(t.hits, 2);

        // delete: applied, answer lost; the item is gone but this call cannot return it.
        http.next(HttpFault::DropAfterApply, 1);
        let err = Doc::delete(&db, &1u32).await.unwrap_err();
        assert!(err.is_outcome_unknown(), "{err:?}");
        assert!(matches!(
            err.unknown_outcome_source(),
            Some(Error::NotFound { .. })
        ));
        http.clear();
        assert!(Doc::find(&db, &1u32).await?.is_none());
        // An idempotent delete reports its success.
        Doc::create(&db, Doc::new(3)).await?;
        http.next(HttpFault::DropAfterApply, 1);
        let gone = Doc::delete(&db, &3u32).idempotent().await?;
        assert_eq!(gone, Doc::new(3));
        assert!(Doc::find(&db, &3u32).await?.is_none());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_request_that_is_never_answered_ends_within_the_operation_timeout() -> R {
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let patient = faulty_db(&http, &faults).await?;
    let db = patient.with_timeouts(
        Timeouts::new()
            .with_attempt(Duration::from_millis(100))
            .with_operation(Duration::from_millis(400)),
    );
    TenantContext::run_with_tenant(fresh_tenant(), async {
        http.next(HttpFault::HangBeforeApply, 1000);
        let before = http.requests();
        assert!(Doc::find(&db, &1u32).await.is_err());
        let err = Doc::create(&db, Doc::new(1)).await.unwrap_err();
        assert!(
            err.is_outcome_unknown(),
            "a timed-out write may have been applied: {err:?}"
        );
        // Bounded by the operation timeout, not the 8 attempts of the policy.
        let sent = http.requests() - before;
        assert!((2..=10).contains(&sent), "{sent} requests");
        http.clear();
        assert!(
            Doc::find(&patient, &1u32).await?.is_none(),
            "never reached the engine"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn throttling_only_is_a_definite_failure() -> R {
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let db = faulty_db(&http, &faults).await?.with_retry(fast(3));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        http.next(HttpFault::Throttle, 2);
        http.next(HttpFault::ThrottlingException, 1);
        let err = Doc::create(&db, Doc::new(1)).await.unwrap_err();
        assert!(!err.is_outcome_unknown(), "{err:?}");
        assert!(err.is_throttled(), "{err:?}");
        assert!(Doc::find(&db, &1u32).await?.is_none());
        Ok(())
    })
    .await
}

// ----- item 4: idempotent writes -----

#[tokio::test]
async fn counters_are_applied_once_with_a_key_or_as_a_transaction() -> R {
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let db = faulty_db(&http, &faults).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        Tally::create(&db, Tally::new("c")).await?;
        // Without protection a lost answer applies the add twice (documented).
        http.next(HttpFault::DropAfterApply, 1);
        let t = Tally::update(&db, "c").add(Tally::HITS, 1u64).await?;
        assert_eq!(t.hits, 2, "the documented hazard of an unprotected counter");
        assert_eq!(t.version, 3, "and the version is bumped twice");

        // With an idempotency key: once.
        http.next(HttpFault::DropAfterApply, 1);
        let t = Tally::update(&db, "c")
            .add(Tally::HITS, 1u64)
            .idempotency_key("k-1")
            .await?;
        assert_eq!((t.hits, t.version), (3, 4));
        // The caller's own retry with the same key is recognised too.
        let t = Tally::update(&db, "c")
            .add(Tally::HITS, 1u64)
            .idempotency_key("k-1")
            .await?;
        assert_eq!((t.hits, t.version), (3, 4));
        let err = Tally::update(&db, "c")
            .add(Tally::HITS, 1u64)
            .idempotency_key("")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");

        // As a one-item transaction with a client request token: once.
        http.next(HttpFault::ServerErrorAfterApply, 1);
        let t = Tally::update(&db, "c")
            .add(Tally::HITS, 1u64)
            .idempotent()
            .await?;
        assert_eq!((t.hits, t.version), (4, 5));
        http.next(HttpFault::DropAfterApply, 1);
        Doc::create(&db, Doc::new(9)).idempotent().await?;
        http.clear();
        assert_eq!(Doc::find(&db, &9u32).await?, Some(Doc::new(9)));
        // Rendering says it is a transaction.
        let err = Doc::create(&db, Doc::new(10))
            .idempotent()
            .to_request()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
        Ok(())
    })
    .await
}

// ----- item 5: per-item state in BatchIncomplete -----

#[tokio::test]
async fn batch_items_carry_their_state() -> R {
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let db = faulty_db(&http, &faults).await?.with_retry(fast(2));
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // Every attempt applied, every answer lost: outcome unknown, and in fact written.
        http.next(HttpFault::DropAfterApply, 2);
        let err = db
            .batch_write()
            .puts((1..=3).map(Doc::new))
            .await
            .unwrap_err();
        let Error::BatchIncomplete { unprocessed, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(unprocessed.len(), 3);
        assert!(unprocessed
            .iter()
            .all(|u| u.state == UnprocessedState::OutcomeUnknown));
        assert!(err.is_outcome_unknown());
        http.clear();
        for id in 1..=3u32 {
            assert!(Doc::find(&db, &id).await?.is_some());
        }
        // Throttled on every attempt: not applied.
        http.next(HttpFault::Throttle, 2);
        let err = db
            .batch_write()
            .puts((4..=5).map(Doc::new))
            .await
            .unwrap_err();
        let Error::BatchIncomplete { unprocessed, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(unprocessed
            .iter()
            .all(|u| u.state == UnprocessedState::NotApplied));
        assert!(!err.is_outcome_unknown());
        // Returned unprocessed until the budget ran out.
        // (The injector holds back every other item and always sends the first: of 6..=9,
        // round 1 writes 6 and 8, round 2 writes 7, and 9 is left.)
        faults.unprocessed_always();
        let err = db
            .batch_write()
            .puts((6..=9).map(Doc::new))
            .await
            .unwrap_err();
        let Error::BatchIncomplete { unprocessed, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(unprocessed.len(), 1);
        assert_eq!(unprocessed[0].state, UnprocessedState::ReturnedUnprocessed);
        faults.clear();
        assert!(Doc::find(&db, &4u32).await?.is_none());
        for id in 6..=8u32 {
            assert!(Doc::find(&db, &id).await?.is_some());
        }
        assert!(Doc::find(&db, &9u32).await?.is_none());
        Ok(())
    })
    .await
}

// ----- the mixed workload, reconciled against a raw scan -----

/// What the caller was told about one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Ok,
    Definite,
    Unknown,
}

/// What must be stored, from what the caller was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Present,
    Absent,
    Either,
}

#[derive(Default)]
struct Figures {
    operations: BTreeMap<&'static str, usize>,
    outcomes: BTreeMap<String, usize>,
    unknown_applied: usize,
    unknown_not_applied: usize,
    read_errors: usize,
    anomalies: Vec<String>,
}

impl Figures {
    fn merge(&mut self, other: Figures) {
        for (k, v) in other.operations {
            *self.operations.entry(k).or_default() += v;
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        self.unknown_applied += other.unknown_applied;
        self.unknown_not_applied += other.unknown_not_applied;
        self.read_errors += other.read_errors;
        self.anomalies.extend(other.anomalies);
    }
}

/// Per tenant: what the caller was told, to hold against the table.
#[derive(Default)]
struct Ledger {
    docs: BTreeMap<u32, Expect>,
    members: BTreeMap<String, Expect>,
    /// Adds to counter `c`: (told Ok, told unknown).
    hits: (u64, u64),
    /// Version bumps of `c`: (told Ok, told unknown).
    bumps: (u64, u64),
    /// The values counter `c`'s balance may hold.
    balances: BTreeSet<i64>,
    /// Transactions (a doc plus an add to counter `tx`): (told Ok, told unknown).
    txs: (u64, u64),
    tx_docs: BTreeSet<u32>,
    next_id: u32,
    figures: Figures,
}

impl Ledger {
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn told<T>(&mut self, op: &'static str, result: &Result<T, Error>) -> Told {
        *self.figures.operations.entry(op).or_default() += 1;
        let (told, label) = match result {
            Ok(_) => (Told::Ok, "ok".to_owned()),
            Err(Error::BatchIncomplete { .. }) => (Told::Definite, "batch_incomplete".to_owned()),
            Err(e) if e.is_outcome_unknown() => (Told::Unknown, "outcome_unknown".to_owned()),
            Err(e) if e.code() == "dynamodb" => {
                self.figures
                    .anomalies
                    .push(format!("{op}: untyped error {e:?}"));
                (Told::Unknown, "untyped".to_owned())
            }
            Err(e) => (Told::Definite, e.code().to_owned()),
        };
        *self.figures.outcomes.entry(label).or_default() += 1;
        told
    }

    fn expect(told: Told, if_ok: Expect, if_failed: Expect) -> Expect {
        match told {
            Told::Ok => if_ok,
            Told::Definite => if_failed,
            Told::Unknown => Expect::Either,
        }
    }
}

fn tiny_rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed | 1;
    move |n| {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// One tenant's sequential workload.
async fn workload(db: &Db, ops: usize, seed: u64) -> Ledger {
    let mut l = Ledger {
        balances: BTreeSet::from([0]),
        ..Ledger::default()
    };
    let mut rng = tiny_rng(seed);
    for _ in 0..ops {
        match rng(10) {
            0 => {
                let id = l.id();
                let r = Doc::create(db, Doc::new(id)).await;
                let t = l.told("create", &r);
                l.docs
                    .insert(id, Ledger::expect(t, Expect::Present, Expect::Absent));
            }
            1 => {
                let email = format!("m{}@example.com", l.id());
                let r = Member::create(db, Member::new(&email)).await;
                let t = l.told("create_unique", &r);
                l.members
                    .insert(email, Ledger::expect(t, Expect::Present, Expect::Absent));
            }
            2 => {
                let r = Tally::update(db, "c")
                    .add(Tally::HITS, 1u64)
                    .idempotency_key(Ulid::new().to_string())
                    .await;
                match l.told("counter_add_keyed", &r) {
                    Told::Ok => {
                        l.hits.0 += 1;
                        l.bumps.0 += 1;
                    }
                    Told::Unknown => {
                        l.hits.1 += 1;
                        l.bumps.1 += 1;
                    }
                    Told::Definite => {}
                }
            }
            3 => {
                let current = match Tally::find(db, "c").consistent().await {
                    Ok(Some(t)) => t,
                    _ => {
                        l.figures.read_errors += 1;
                        continue;
                    }
                };
                let value = rng(1_000_000) as i64 + 1;
                let r = Tally::update(db, "c")
                    .set(Tally::BALANCE, value)
                    .if_version(current.version)
                    .await;
                match l.told("update_if_version", &r) {
                    Told::Ok => {
                        l.bumps.0 += 1;
                        l.balances = BTreeSet::from([value]);
                    }
                    Told::Unknown => {
                        l.bumps.1 += 1;
                        l.balances.insert(value);
                    }
                    Told::Definite => {
                        // Nobody else writes this tenant's counter: a definite conflict would
                        // be false.
                        l.figures.anomalies.push(format!(
                            "update_if_version: definite error {:?} with no concurrent writer",
                            r.err()
                        ));
                    }
                }
            }
            4 | 5 => {
                let present: Vec<u32> = l
                    .docs
                    .iter()
                    .filter(|(id, e)| **e == Expect::Present && !l.tx_docs.contains(id))
                    .map(|(id, _)| *id)
                    .collect();
                let Some(&id) = present.get(rng(present.len().max(1) as u64) as usize) else {
                    continue;
                };
                let (op, r) = if rng(2) == 0 {
                    ("delete", Doc::delete(db, &id).await)
                } else {
                    ("delete_idempotent", Doc::delete(db, &id).idempotent().await)
                };
                let t = l.told(op, &r);
                l.docs
                    .insert(id, Ledger::expect(t, Expect::Absent, Expect::Present));
            }
            6 => {
                let ids: Vec<u32> = (0..5).map(|_| l.id()).collect();
                let r = db
                    .batch_write()
                    .puts(ids.iter().map(|&i| Doc::new(i)))
                    .await;
                l.told("batch_put", &r);
                let listed: HashMap<u32, UnprocessedState> = match &r {
                    Err(Error::BatchIncomplete { unprocessed, .. }) => unprocessed
                        .iter()
                        .filter_map(|u| ids.get(u.position).map(|id| (*id, u.state)))
                        .collect(),
                    _ => HashMap::new(),
                };
                for id in ids {
                    let e = match (&r, listed.get(&id)) {
                        (Ok(()), _) => Expect::Present,
                        (Err(Error::BatchIncomplete { .. }), None) => Expect::Present,
                        (
                            Err(Error::BatchIncomplete { .. }),
                            Some(UnprocessedState::OutcomeUnknown),
                        ) => {
                            *l.figures
                                .outcomes
                                .entry("batch_item_unknown".into())
                                .or_default() += 1;
                            Expect::Either
                        }
                        (Err(Error::BatchIncomplete { .. }), Some(_)) => {
                            *l.figures
                                .outcomes
                                .entry("batch_item_not_done".into())
                                .or_default() += 1;
                            Expect::Absent
                        }
                        (Err(_), _) => Expect::Either,
                    };
                    l.docs.insert(id, e);
                }
            }
            7 => {
                let id = l.id();
                let r = db
                    .transact_write()
                    .create(Doc::new(id))
                    .update(|db| Tally::update(db, "tx").add(Tally::HITS, 1u64))
                    .await;
                let t = l.told("transaction", &r);
                match t {
                    Told::Ok => l.txs.0 += 1,
                    Told::Unknown => l.txs.1 += 1,
                    Told::Definite => {}
                }
                l.tx_docs.insert(id);
                l.docs
                    .insert(id, Ledger::expect(t, Expect::Present, Expect::Absent));
            }
            8 => {
                let id = l.id();
                let r = Doc::create(db, Doc::new(id)).idempotent().await;
                let t = l.told("create_idempotent", &r);
                l.docs
                    .insert(id, Ledger::expect(t, Expect::Present, Expect::Absent));
            }
            _ => {
                let r = Tally::update(db, "c")
                    .add(Tally::HITS, 1u64)
                    .idempotent()
                    .await;
                match l.told("counter_add_transaction", &r) {
                    Told::Ok => {
                        l.hits.0 += 1;
                        l.bumps.0 += 1;
                    }
                    Told::Unknown => {
                        l.hits.1 += 1;
                        l.bumps.1 += 1;
                    }
                    Told::Definite => {}
                }
            }
        }
    }
    l
}

fn number(item: &Item, attr: &str) -> Option<i64> {
    match item.get(attr) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// Holds one tenant's ledger against the raw items of the tenant.
fn reconcile(tenant: &TenantId, l: &mut Ledger, items: &[&Item]) {
    let t = tenant.as_str();
    let f = &mut l.figures;
    let pk = |i: &Item| s(i, "_pk").unwrap_or_default().to_owned();
    let docs: BTreeSet<u32> = items
        .iter()
        .filter(|i| pk(i).starts_with(&format!("[{t}]#doc#")))
        .filter_map(|i| number(i, "id").and_then(|n| u32::try_from(n).ok()))
        .collect();
    let members: BTreeSet<String> = items
        .iter()
        .filter(|i| pk(i).starts_with(&format!("[{t}]#mem#")) && !pk(i).contains("$unique"))
        .filter_map(|i| s(i, "email").map(str::to_owned))
        .collect();
    let counter = |id: &str| {
        items
            .iter()
            .find(|i| pk(i).starts_with(&format!("[{t}]#ctr#")) && s(i, "id") == Some(id))
            .copied()
    };
    let check = |what: String, expect: Expect, stored: bool, f: &mut Figures| match (expect, stored)
    {
        (Expect::Present, false) => f
            .anomalies
            .push(format!("loss: {what} was reported written")),
        (Expect::Absent, true) => f
            .anomalies
            .push(format!("definite error for an applied write: {what}")),
        (Expect::Either, true) => f.unknown_applied += 1,
        (Expect::Either, false) => f.unknown_not_applied += 1,
        _ => {}
    };
    for (id, e) in &l.docs {
        check(format!("doc {id}"), *e, docs.contains(id), f);
    }
    for id in &docs {
        if !l.docs.contains_key(id) {
            f.anomalies
                .push(format!("doc {id} stored but never written"));
        }
    }
    for (email, e) in &l.members {
        check(format!("member {email}"), *e, members.contains(email), f);
    }
    let within = |what: &str, stored: i64, (ok, unknown): (u64, u64), f: &mut Figures| {
        let (ok, unknown) = (ok as i64, unknown as i64);
        if stored < ok {
            f.anomalies.push(format!(
                "loss: {what} is {stored}, below the {ok} reported applied"
            ));
        } else if stored > ok + unknown {
            f.anomalies.push(format!(
                "silent duplicate: {what} is {stored}, above {ok} applied + {unknown} unknown"
            ));
        }
    };
    match counter("c") {
        Some(c) => {
            within("counter c hits", number(c, "hits").unwrap_or(-1), l.hits, f);
            within(
                "counter c version bumps",
                number(c, "version").unwrap_or(0) - 1,
                l.bumps,
                f,
            );
            let balance = number(c, "balance").unwrap_or(-1);
            if !l.balances.contains(&balance) {
                f.anomalies.push(format!(
                    "counter c balance {balance} is none of the values written {:?}",
                    l.balances
                ));
            }
        }
        None => f.anomalies.push("loss: counter c is gone".into()),
    }
    match counter("tx") {
        Some(c) => {
            let hits = number(c, "hits").unwrap_or(-1);
            within("transactions applied", hits, l.txs, f);
            let tx_docs = l.tx_docs.iter().filter(|id| docs.contains(id)).count() as i64;
            if tx_docs != hits {
                f.anomalies.push(format!(
                    "transactions half applied: {tx_docs} docs for {hits} counter adds"
                ));
            }
        }
        None => f.anomalies.push("loss: counter tx is gone".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_workload_under_faults_reconciles_with_a_raw_scan() -> R {
    let long = std::env::var("DYNABAO_FAULT_SUITE").is_ok_and(|v| v == "long");
    let (tenants, ops) = if long { (24, 200) } else { (24, 20) };
    let seed = std::env::var("DYNABAO_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(Ulid::new().random() as u32));
    let http = HttpFaults::new();
    let faults = FaultInjector::new();
    let db = faulty_db(&http, &faults).await?;
    let ids: Vec<TenantId> = (0..tenants).map(|_| fresh_tenant()).collect();
    for t in &ids {
        TenantContext::run_with_tenant(t.clone(), async {
            Tally::create(&db, Tally::new("c")).await?;
            Tally::create(&db, Tally::new("tx")).await?;
            Ok::<_, Error>(())
        })
        .await?;
    }

    http.at_rate(0.2, seed);
    http.latency(Duration::from_millis(15));
    faults.unprocessed_at_rate(0.2, seed ^ 0x5555);
    let runs = ids.iter().enumerate().map(|(n, t)| {
        let db = db.clone();
        TenantContext::run_with_tenant(t.clone(), async move {
            Ok::<_, Error>(workload(&db, ops, seed.wrapping_add(n as u64 * 7919)).await)
        })
    });
    let mut ledgers = futures::future::try_join_all(runs).await?;
    http.clear();
    faults.clear();

    let items = raw_scan(&db).await;
    let mut total = Figures::default();
    for (t, ledger) in ids.iter().zip(ledgers.iter_mut()) {
        let prefix = format!("[{}]#", t.as_str());
        let mine: Vec<&Item> = items
            .iter()
            .filter(|i| s(i, "_pk").is_some_and(|p| p.starts_with(&prefix)))
            .collect();
        reconcile(t, ledger, &mine);
        total.merge(std::mem::take(&mut ledger.figures));
    }
    // Nothing outside the tenants, and every unique constraint item has its owner.
    let stray = items
        .iter()
        .filter(|i| {
            !ids.iter()
                .any(|t| s(i, "_pk").is_some_and(|p| p.starts_with(&format!("[{}]#", t.as_str()))))
        })
        .count();
    if stray > 0 {
        total
            .anomalies
            .push(format!("{stray} items outside the tenants"));
    }
    audit_constraints(&db).await;

    let operations: usize = total.operations.values().sum();
    println!(
        "fault suite ({} mode, seed {seed}): {tenants} tenants, {operations} operations, {} \
         requests through the fault layer",
        if long { "long" } else { "quick" },
        http.requests()
    );
    println!("  operations by kind: {:?}", total.operations);
    let mut injected: Vec<(String, usize)> = http
        .injected()
        .into_iter()
        .map(|(k, v)| (format!("{k:?}"), v))
        .collect();
    injected.sort();
    injected.push(("UnprocessedBatchItems".into(), faults.held_back()));
    println!("  faults by kind: {injected:?}");
    println!("  outcomes by kind: {:?}", total.outcomes);
    println!(
        "  items whose write's outcome was unknown, found stored: {}, found absent: {} \
         (for deletes, absent means applied); failed reads skipped: {}",
        total.unknown_applied, total.unknown_not_applied, total.read_errors
    );
    println!("  anomalies: {}", total.anomalies.len());
    for a in &total.anomalies {
        println!("    {a}");
    }
    assert!(operations >= tenants * ops / 2, "the workload ran");
    assert!(
        http.injected().values().sum::<usize>() > 0,
        "faults were injected"
    );
    assert!(total.anomalies.is_empty(), "{:#?}", total.anomalies);
    Ok(())
}
