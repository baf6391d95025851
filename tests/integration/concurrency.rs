//! Many concurrent tasks over many tenants on a multi-thread runtime, each in its own tenant
//! scope, interleaving writes, reads and queries with awaits in between: no task ever sees
//! another tenant's data, and at the end every tenant has exactly its own items.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Error, TenantContext, TenantId};
use ulid::Ulid;

use crate::models::*;

const TENANTS: usize = 20;
const TASKS: usize = 1000;
/// Requests each task sends.
const REQUESTS_PER_TASK: usize = 4;

/// Every email of tenant `t` ends with this.
fn marker(t: &TenantId) -> String {
    format!("@{}.tenant.test", t.as_str().to_lowercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_over_many_tenants_only_see_their_own() -> dynabao::Result<()> {
    let db = fresh_db().await?;
    let tenants: Vec<TenantId> = (0..TENANTS).map(|_| fresh_tenant()).collect();
    // The same User id in every tenant, so tasks of different tenants read one key at once.
    let probe = Ulid::new();
    for t in &tenants {
        TenantContext::run_with_tenant(t, async {
            let mut u = User::new(&format!("probe{}", marker(t)));
            u.id = probe;
            u.name = t.to_string();
            User::create(&db, u).await?;
            Ok::<_, Error>(())
        })
        .await?;
    }

    let started = Instant::now();
    let mut handles = Vec::with_capacity(TASKS);
    for n in 0..TASKS {
        let which = n % TENANTS;
        let t = tenants[which].clone();
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let scope = t.clone();
            TenantContext::run_with_tenant(scope, async move {
                let mine = marker(&t);
                let email = format!("task{n}{mine}");
                let status = if n % 2 == 0 {
                    Status::Active
                } else {
                    Status::Suspended
                };
                let mut u = User::new(&email);
                u.name = t.to_string();
                u.status = status;
                let created = User::create(&db, u).await?;
                tokio::task::yield_now().await;

                assert_eq!(TenantContext::current().as_ref(), Some(&t));
                let probe_seen = User::find(&db, &probe).await?.expect("this tenant's probe");
                assert_eq!(
                    probe_seen.name,
                    t.as_str(),
                    "task {n} read another tenant's probe"
                );
                assert!(probe_seen.email.ends_with(&mine));
                tokio::task::yield_now().await;

                let by_email = User::query_by_email(&db, &email).all().await?;
                assert_eq!(by_email, vec![created.clone()], "task {n}");
                tokio::task::yield_now().await;

                // One page of this tenant's status partition, while others write theirs.
                let page = User::query_by_status(&db, &status).limit(10).send().await?;
                assert!(!page.items.is_empty(), "task {n}");
                for u in &page.items {
                    assert!(
                        u.name == t.as_str() && u.email.ends_with(&mine),
                        "task {n} of {t} saw {u:?}"
                    );
                }
                assert_eq!(TenantContext::current().as_ref(), Some(&t));
                Ok::<_, Error>((which, created.id))
            })
            .await
        }));
    }
    let mut expected: HashMap<usize, BTreeSet<Ulid>> = HashMap::new();
    for h in handles {
        let (which, id) = h.await.expect("task panicked")?;
        assert!(expected.entry(which).or_default().insert(id));
    }
    let tasks_took = started.elapsed();

    // Every tenant has exactly its own items.
    let per_tenant = TASKS / TENANTS;
    for (which, t) in tenants.iter().enumerate() {
        TenantContext::run_with_tenant(t, async {
            let mine = marker(t);
            let mut users = User::query_by_status(&db, &Status::Active).all().await?;
            users.extend(User::query_by_status(&db, &Status::Suspended).all().await?);
            assert_eq!(
                users.len(),
                per_tenant + 1,
                "{t}: its tasks' users and its probe"
            );
            assert!(users
                .iter()
                .all(|u| u.name == t.as_str() && u.email.ends_with(&mine)));
            let mut ids: BTreeSet<Ulid> = users.iter().map(|u| u.id).collect();
            assert!(ids.remove(&probe));
            assert_eq!(ids, expected[&which], "{t}");
            Ok::<_, Error>(())
        })
        .await?;
    }
    eprintln!(
        "concurrency: {TASKS} tasks over {TENANTS} tenants ({} requests) took {tasks_took:?}; \
         with the final checks {:?}",
        TASKS * REQUESTS_PER_TASK,
        started.elapsed()
    );
    Ok(())
}
