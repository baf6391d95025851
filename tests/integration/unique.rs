//! Unique constraints: claimed with the owner, moved on update, released on delete and on
//! `None`, per tenant, race-safe; checked after every step with a raw scan.

use std::future::IntoFuture;

use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, TenantContext};
use ulid::Ulid;

use crate::models_tx::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

fn is_unique_violation(r: &Result<impl std::fmt::Debug, Error>, constraint: &str) -> bool {
    matches!(r, Err(Error::UniqueViolation { constraint: c, model: "Member" | "Team" }) if *c == constraint)
}

#[tokio::test]
async fn create_claims_and_a_clash_is_unique_violation_writing_nothing() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let a = Member::create(&db, Member::new("a@x.io")).await?;
        let audit = audit_constraints(&db).await;
        assert_eq!(audit.stored.len(), 1, "one constraint item, for the email");
        let pk = format!("[{t}]#mem#$unique#by_email#a@x.io");
        let stored = raw_get(&db, &pk, &format!("[{t}]#mem#$unique#by_email"))
            .await
            .expect("the constraint item");
        assert_eq!(
            s(&stored, "_owner_pk"),
            Some(format!("[{t}]#mem#{}", a.id).as_str())
        );

        // Same email, another member: refused, nothing written.
        let before = raw_scan(&db).await.len();
        let clash = Member::create(&db, Member::new("a@x.io")).await;
        assert!(is_unique_violation(&clash, "by_email"), "{clash:?}");
        let err = clash.unwrap_err();
        assert_eq!(err.code(), "unique_violation");
        assert!(err.is_condition_failed());
        assert_eq!(err.unique_violation(), Some("by_email"));
        assert_eq!(raw_scan(&db).await.len(), before);

        // The owner's own key taken is AlreadyExists, not a unique violation.
        let mut again = Member::new("other@x.io");
        again.id = a.id;
        let dup = Member::create(&db, again).await;
        assert!(
            matches!(dup, Err(Error::AlreadyExists { model: "Member" })),
            "{dup:?}"
        );

        // Both constraints at once; the optional one claims only when Some.
        let mut b = Member::new("b@x.io");
        b.handle = Some("bee".into());
        let b = Member::create(&db, b).await?;
        let mut c = Member::new("c@x.io");
        c.handle = Some("bee".into());
        let clash = Member::create(&db, c).await;
        assert!(is_unique_violation(&clash, "handle"), "{clash:?}");
        let audit = audit_constraints(&db).await;
        assert_eq!(audit.stored.len(), 3);
        assert_eq!(Member::find_by_email(&db, "b@x.io").await?, Some(b.clone()));
        assert_eq!(Member::find_by_handle(&db, "bee").await?, Some(b));
        assert_eq!(Member::find_by_handle(&db, "nobody").await?, None);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn the_same_value_in_two_tenants_is_fine_and_lookups_stay_in_their_tenant() -> R {
    let db = fresh_db().await?;
    let (t1, t2) = (fresh_tenant(), fresh_tenant());
    let a = TenantContext::run_with_tenant(
        &t1,
        Member::create(&db, Member::new("same@x.io")).into_future(),
    )
    .await?;
    let b = TenantContext::run_with_tenant(
        &t2,
        Member::create(&db, Member::new("same@x.io")).into_future(),
    )
    .await?;
    assert_ne!(a.id, b.id);
    let found1 =
        TenantContext::run_with_tenant(&t1, Member::find_by_email(&db, "same@x.io").into_future())
            .await?;
    let found2 =
        TenantContext::run_with_tenant(&t2, Member::find_by_email(&db, "same@x.io").into_future())
            .await?;
    assert_eq!(found1.map(|m| m.id), Some(a.id));
    assert_eq!(found2.map(|m| m.id), Some(b.id));
    // No tenant: refused before anything is sent.
    let counter = RequestCounter::new();
    let counted = fresh_db_counted(&counter).await?;
    let sent = counter.count();
    assert!(matches!(
        Member::find_by_email(&counted, "same@x.io").await,
        Err(Error::TenantRequired)
    ));
    assert!(matches!(
        Member::create(&counted, Member::new("x@x.io")).await,
        Err(Error::TenantRequired)
    ));
    assert_eq!(counter.count(), sent);
    audit_constraints(&db).await;
    Ok(())
}

#[tokio::test]
async fn update_moves_the_constraint_and_none_releases_it() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let mut m = Member::new("old@x.io");
        m.handle = Some("h1".into());
        let m = Member::create(&db, m).await?;
        let other = Member::create(&db, Member::new("taken@x.io")).await?;

        // Moving onto a taken value: refused, nothing changes.
        let r = Member::update(&db, &m.id)
            .set(Member::EMAIL, "taken@x.io")
            .await;
        assert!(is_unique_violation(&r, "by_email"), "{r:?}");
        assert_eq!(Member::find(&db, &m.id).await?.unwrap(), m);
        audit_constraints(&db).await;

        // Moving to a free value: the old one is released, the new one claimed, the item
        // returned as stored.
        let moved = Member::update(&db, &m.id)
            .set(Member::EMAIL, "new@x.io")
            .await?;
        assert_eq!(moved.email, "new@x.io");
        assert_eq!(moved.version, m.version + 1);
        assert_eq!(Member::find_by_email(&db, "old@x.io").await?, None);
        assert_eq!(
            Member::find_by_email(&db, "new@x.io").await?.map(|x| x.id),
            Some(m.id)
        );
        // The old value is free for someone else now.
        Member::create(&db, Member::new("old@x.io")).await?;
        audit_constraints(&db).await;

        // Setting the optional field to None releases it; Some claims again; remove releases.
        let cleared = Member::update(&db, &m.id)
            .set(Member::HANDLE, None::<String>)
            .await?;
        assert_eq!(cleared.handle, None);
        assert_eq!(Member::find_by_handle(&db, "h1").await?, None);
        audit_constraints(&db).await;
        Member::update(&db, &m.id)
            .set(Member::HANDLE, Some("h2".to_string()))
            .await?;
        assert_eq!(
            Member::find_by_handle(&db, "h2").await?.map(|x| x.id),
            Some(m.id)
        );
        Member::update(&db, &m.id).remove(Member::HANDLE).await?;
        assert_eq!(Member::find_by_handle(&db, "h2").await?, None);
        audit_constraints(&db).await;

        // Setting the same value again changes no constraint item.
        let same = Member::update(&db, &m.id)
            .set(Member::EMAIL, "new@x.io")
            .await?;
        assert_eq!(same.email, "new@x.io");

        // An update that does not touch unique fields is a plain UpdateItem.
        let renamed = Member::update(&db, &m.id).set(Member::NAME, "Ann").await?;
        assert_eq!(renamed.name, "Ann");

        // Failed updates leave everything as it was.
        let stale = Member::update(&db, &m.id)
            .set(Member::EMAIL, "stale@x.io")
            .if_version(1)
            .await;
        assert!(
            matches!(stale, Err(Error::VersionConflict { .. })),
            "{stale:?}"
        );
        let missing = Member::update(&db, &Ulid::new())
            .set(Member::EMAIL, "ghost@x.io")
            .await;
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
        let cond = Member::update(&db, &m.id)
            .set(Member::EMAIL, "cond@x.io")
            .condition(Member::NAME.eq("Bob"))
            .await;
        assert!(
            matches!(cond, Err(Error::ConditionFailed { .. })),
            "{cond:?}"
        );
        assert_eq!(Member::find_by_email(&db, "stale@x.io").await?, None);
        assert_eq!(Member::find_by_email(&db, "cond@x.io").await?, None);
        let audit = audit_constraints(&db).await;
        assert_eq!(audit.stored.len(), 3, "{:?}", audit.stored);
        let _ = other;
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn delete_put_and_replace_keep_constraints() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let mut m = Member::new("d@x.io");
        m.handle = Some("dee".into());
        let m = Member::create(&db, m).await?;

        // put (upsert) moves both values.
        let mut p = m.clone();
        p.email = "p@x.io".into();
        p.handle = None;
        let put = Member::put(&db, p).await?;
        assert_eq!(put.email, "p@x.io");
        assert_eq!(Member::find_by_email(&db, "d@x.io").await?, None);
        assert_eq!(Member::find_by_handle(&db, "dee").await?, None);
        audit_constraints(&db).await;

        // put of a new item claims like a create.
        let fresh = Member::put(&db, Member::new("fresh@x.io")).await?;
        assert_eq!(
            Member::find_by_email(&db, "fresh@x.io")
                .await?
                .map(|x| x.id),
            Some(fresh.id)
        );
        // put onto a taken value is refused.
        let mut clash = fresh.clone();
        clash.email = "p@x.io".into();
        let r = Member::put(&db, clash).await;
        assert!(is_unique_violation(&r, "by_email"), "{r:?}");
        audit_constraints(&db).await;

        // replace checks the version and moves values.
        let current = Member::find(&db, &m.id).await?.unwrap();
        let mut r = current.clone();
        r.email = "r@x.io".into();
        let replaced = Member::replace(&db, r.clone()).await?;
        assert_eq!(replaced.version, current.version + 1);
        let stale = Member::replace(&db, r).await;
        assert!(
            matches!(stale, Err(Error::VersionConflict { .. })),
            "{stale:?}"
        );
        let mut ghost = Member::new("ghost@x.io");
        ghost.id = Ulid::new();
        ghost.version = 1;
        assert!(matches!(
            Member::replace(&db, ghost).await,
            Err(Error::NotFound { .. })
        ));
        audit_constraints(&db).await;

        // delete releases, returns the item; deleting again is NotFound.
        let deleted = Member::delete(&db, &m.id).await?;
        assert_eq!(deleted.email, "r@x.io");
        assert_eq!(Member::find_by_email(&db, "r@x.io").await?, None);
        assert!(matches!(
            Member::delete(&db, &m.id).await,
            Err(Error::NotFound { .. })
        ));
        let stale = Member::delete(&db, &fresh.id).if_version(99).await;
        assert!(
            matches!(stale, Err(Error::VersionConflict { .. })),
            "{stale:?}"
        );
        audit_constraints(&db).await;
        Member::create(&db, Member::new("r@x.io")).await?;
        audit_constraints(&db).await;

        // An unversioned model works the same.
        let team = Team::create(
            &db,
            Team {
                id: "t1".into(),
                slug: "core".into(),
                title: "Core".into(),
            },
        )
        .await?;
        let clash = Team::create(
            &db,
            Team {
                id: "t2".into(),
                slug: "core".into(),
                title: "x".into(),
            },
        )
        .await;
        assert!(is_unique_violation(&clash, "by_slug"), "{clash:?}");
        Team::update(&db, "t1").set(Team::SLUG, "platform").await?;
        assert_eq!(
            Team::find_by_slug(&db, "platform").await?,
            Some(Team {
                slug: "platform".into(),
                ..team
            })
        );
        Team::create(
            &db,
            Team {
                id: "t2".into(),
                slug: "core".into(),
                title: "x".into(),
            },
        )
        .await?;
        Team::delete(&db, "t1").await?;
        let audit = audit_constraints(&db).await;
        assert_eq!(audit.stored.len(), 3, "{:?}", audit.stored);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn bad_input_is_refused_before_sending() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let m = Member::create(&db, Member::new("v@x.io")).await?;
        let sent = counter.count();
        // A unique field cannot be added to; a to_request of a transactional write says so.
        let r = Member::update(&db, &m.id)
            .set(Member::EMAIL, "w@x.io")
            .to_request()
            .await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        let r = Member::delete(&db, &m.id).to_request().await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        let r = Member::create(&db, Member::new("z@x.io"))
            .to_request()
            .await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        // Batch writes cannot keep constraints.
        let r = db.batch_write().put(Member::new("batch@x.io")).await;
        assert!(
            matches!(
                r,
                Err(Error::InvalidRequest {
                    model: "Member",
                    ..
                })
            ),
            "{r:?}"
        );
        let r = db.batch_write().delete(Member::key(&m.id)).await;
        assert!(
            matches!(
                r,
                Err(Error::InvalidRequest {
                    model: "Member",
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(counter.count(), sent, "nothing sent");
        // A plain update's request renders as before.
        let r = Member::update(&db, &m.id)
            .set(Member::NAME, "n")
            .to_request()
            .await?;
        assert!(r.update_expression().is_some());
        audit_constraints(&db).await;
        Ok::<_, Error>(())
    })
    .await
}

/// Many tasks race to claim one email: exactly one wins, the rest get UniqueViolation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_of_one_value_have_one_winner() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let mut handles = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        let t = t.clone();
        handles.push(tokio::spawn(TenantContext::run_with_tenant(
            t,
            async move {
                let mut m = Member::new("race@x.io");
                m.name = format!("racer {i}");
                Member::create(&db, m).await
            },
        )));
    }
    let mut won = 0;
    for h in handles {
        match h.await.expect("task") {
            Ok(_) => won += 1,
            Err(Error::UniqueViolation { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    let audit = audit_constraints(&db).await;
    assert_eq!(audit.stored.len(), 1);
    Ok(())
}

/// Concurrent moves of one member's email, concurrent deletes and re-creates: whatever the
/// interleaving, every constraint item belongs to a live owner holding its value, and every
/// value held has its item.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_moves_never_leave_or_lose_a_constraint() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let m = TenantContext::run_with_tenant(
        &t,
        Member::create(&db, Member::new("start@x.io")).into_future(),
    )
    .await?;
    let mut handles = Vec::new();
    for i in 0..24 {
        let db = db.clone();
        let t = t.clone();
        let id = m.id;
        handles.push(tokio::spawn(TenantContext::run_with_tenant(
            t,
            async move {
                let r = match i % 4 {
                    0 | 1 => Member::update(&db, &id)
                        .set(Member::EMAIL, format!("m{i}@x.io"))
                        .await
                        .map(|_| ()),
                    2 => Member::update(&db, &id)
                        .set(Member::HANDLE, Some(format!("h{}", i % 3)))
                        .await
                        .map(|_| ()),
                    _ => {
                        let mut other = Member::new(&format!("m{}@x.io", i - 3));
                        other.handle = Some(format!("h{}", i % 3));
                        Member::create(&db, other).await.map(|_| ())
                    }
                };
                match r {
                    Ok(()) | Err(Error::UniqueViolation { .. }) | Err(Error::Contention { .. }) => {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            },
        )));
    }
    for h in handles {
        h.await.expect("task")?;
    }
    let audit = audit_constraints(&db).await;
    assert!(!audit.stored.is_empty());
    Ok(())
}

#[tokio::test]
async fn find_by_ignores_a_constraint_whose_owner_moved_on_and_never_crosses_tenants() -> R {
    let db = fresh_db().await?;
    let (t1, t2) = (fresh_tenant(), fresh_tenant());
    let m = TenantContext::run_with_tenant(
        &t1,
        Member::create(&db, Member::new("own@x.io")).into_future(),
    )
    .await?;
    // A forged constraint item in t2 pointing at t1's member: refused as cross-tenant.
    raw_put(
        &db,
        dynabao::Item::from([
            (
                "_pk".into(),
                av_s(format!("[{t2}]#mem#$unique#by_email#own@x.io")),
            ),
            ("_sk".into(), av_s(format!("[{t2}]#mem#$unique#by_email"))),
            ("_owner_pk".into(), av_s(format!("[{t1}]#mem#{}", m.id))),
            ("_owner_sk".into(), av_s(format!("[{t1}]#mem#_"))),
        ]),
    )
    .await;
    let r =
        TenantContext::run_with_tenant(&t2, Member::find_by_email(&db, "own@x.io").into_future())
            .await;
    assert!(matches!(r, Err(Error::CrossTenant { .. })), "{r:?}");
    // A stale constraint item (its owner holds another value) reads as None.
    raw_put(
        &db,
        dynabao::Item::from([
            (
                "_pk".into(),
                av_s(format!("[{t1}]#mem#$unique#by_email#stale@x.io")),
            ),
            ("_sk".into(), av_s(format!("[{t1}]#mem#$unique#by_email"))),
            ("_owner_pk".into(), av_s(format!("[{t1}]#mem#{}", m.id))),
            ("_owner_sk".into(), av_s(format!("[{t1}]#mem#_"))),
        ]),
    )
    .await;
    let r =
        TenantContext::run_with_tenant(&t1, Member::find_by_email(&db, "stale@x.io").into_future())
            .await?;
    assert_eq!(r, None);
    Ok(())
}
