//! Create, find, update, put, replace and delete against a real engine: managed fields, typed
//! errors, conditions, rendered requests, TTL and stored names, and key values that cannot be
//! encoded.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, TimeZone, Utc};
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, TenantContext, TenantId};
use ulid::Ulid;

use crate::models::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

fn user_pk(t: &TenantId, id: Ulid) -> String {
    format!("[{t}]#u#{id}")
}

fn user_sk(t: &TenantId) -> String {
    format!("[{t}]#u#_")
}

/// Lets the clock move, so `updated_at` of two writes in a row differs.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(2)).await;
}

// ---------------------------------------------------------------------------------------------
// create / find

#[tokio::test]
async fn create_fills_auto_id_timestamps_and_version() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let before = Utc::now();
        let u = User::create(&db, User::new("a@x.io")).await?;
        let after = Utc::now();
        assert_ne!(u.id, Ulid::nil(), "a nil auto id is replaced");
        assert_eq!(u.version, 1);
        assert!(before <= u.created_at && u.created_at <= after, "{u:?}");
        assert_eq!(u.created_at, u.updated_at);
        assert_eq!(u.email, "a@x.io");
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));

        // Two creates get two ids.
        let u2 = User::create(&db, User::new("a@x.io")).await?;
        assert_ne!(u2.id, u.id);

        // A non-nil id is kept; managed fields are overwritten whatever the caller put there.
        let id = Ulid::new();
        let mut given = User::new("b@x.io");
        given.id = id;
        given.version = 42;
        given.created_at = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap();
        given.updated_at = given.created_at;
        let b = User::create(&db, given).await?;
        assert_eq!(b.id, id);
        assert_eq!(b.version, 1);
        assert!(b.created_at >= before);
        assert_eq!(b.updated_at, b.created_at);

        // What is stored, raw.
        let raw = raw_get(&db, &user_pk(&t, id), &user_sk(&t))
            .await
            .expect("stored under [tenant]#u#<ULID>");
        assert_eq!(raw.get("version"), Some(&av_n(1)));
        assert_eq!(s(&raw, "email"), Some("b@x.io"));
        assert_eq!(s(&raw, "status"), Some("active"));
        assert_eq!(
            s(&raw, "_gsi1_pk"),
            Some(format!("[{t}]#u#active").as_str())
        );
        assert_eq!(
            s(&raw, "_gsi1_sk"),
            Some(format!("[{t}]#u#{}", ts_key(&b.created_at)).as_str())
        );
        assert_eq!(
            s(&raw, "_gsi2_pk"),
            Some(format!("[{t}]#u#b@x.io").as_str())
        );
        assert_eq!(s(&raw, "_gsi2_sk"), Some(format!("[{t}]#u#_").as_str()));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn create_twice_with_the_same_key_is_already_exists() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("a@x.io")).await?;
        let mut again = u.clone();
        again.email = "other@x.io".into();
        let err = User::create(&db, again).await.unwrap_err();
        assert!(
            matches!(err, Error::AlreadyExists { model: "User" }),
            "{err:?}"
        );
        assert_eq!(err.code(), "already_exists");
        assert!(err.is_conditional_check_failed());
        // The first item is untouched.
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));

        // Same for a model with a sort key: same (pk, sk) collides, another sk does not.
        let author = Ulid::new();
        let post = |seq: i64, title: &str| Post {
            author_id: author,
            seq,
            title: title.into(),
            published_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
            tag: None,
        };
        Post::create(&db, post(1, "first")).await?;
        let err = Post::create(&db, post(1, "second")).await.unwrap_err();
        assert!(
            matches!(err, Error::AlreadyExists { model: "Post" }),
            "{err:?}"
        );
        Post::create(&db, post(2, "second")).await?;
        assert_eq!(
            Post::find(&db, &author, &1i64).await?.map(|p| p.title),
            Some("first".to_owned())
        );
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn find_missing_is_none_and_consistent_reads_work() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        assert_eq!(User::find(&db, &Ulid::new()).await?, None);
        assert_eq!(User::find(&db, &Ulid::new()).consistent().await?, None);
        assert_eq!(Post::find(&db, &Ulid::new(), &0i64).await?, None);

        let u = User::create(&db, User::new("c@x.io")).await?;
        assert_eq!(User::find(&db, &u.id).consistent().await?, Some(u.clone()));
        let strong = User::find(&db, &u.id).consistent().to_request().await?;
        assert_eq!(strong.consistent_read(), Some(true));
        let eventual = User::find(&db, &u.id).to_request().await?;
        assert_eq!(eventual.consistent_read(), Some(false));
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// update

#[tokio::test]
async fn update_set_remove_add_bumps_version_and_updated_at() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let u = User::create(&db, User::new("d@x.io")).await?;
        tick().await;

        let u2 = User::update(&db, &u.id)
            .set(User::NICKNAME, "dee".to_owned())
            .set(User::NAME, "Dee")
            .add(User::LOGINS, 3)
            .await?;
        assert_eq!(u2.nickname.as_deref(), Some("dee"));
        assert_eq!(u2.name, "Dee");
        assert_eq!(u2.logins, 3);
        assert_eq!(u2.version, 2);
        assert!(u2.updated_at > u.updated_at, "{u2:?}");
        assert_eq!(u2.created_at, u.created_at);
        assert_eq!(u2.email, u.email);
        assert_eq!(u2.id, u.id);
        tick().await;

        let u3 = User::update(&db, &u.id)
            .remove(User::NICKNAME)
            .add(User::LOGINS, 2)
            .await?;
        assert_eq!(u3.nickname, None);
        assert_eq!(u3.logins, 5);
        assert_eq!(u3.version, 3);
        assert!(u3.updated_at > u2.updated_at);
        assert_eq!(User::find(&db, &u.id).await?, Some(u3.clone()));

        let raw = raw_get(&db, &user_pk(&t, u.id), &user_sk(&t))
            .await
            .unwrap();
        assert!(!raw.contains_key("nickname"), "removed: {raw:?}");
        assert_eq!(raw.get("logins"), Some(&av_n(5)));
        assert_eq!(raw.get("version"), Some(&av_n(3)));

        // An explicit updated_at is kept (and the version still bumps).
        let fixed = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        let u4 = User::update(&db, &u.id)
            .set(User::UPDATED_AT, fixed)
            .await?;
        assert_eq!(u4.updated_at, fixed);
        assert_eq!(u4.version, 4);

        // Setting an optional field to None stores no value for it.
        let u5 = User::update(&db, &u.id)
            .set(User::NICKNAME, Some("x".to_owned()))
            .await?;
        assert_eq!(u5.nickname.as_deref(), Some("x"));
        let u6 = User::update(&db, &u.id)
            .set(User::NICKNAME, None::<String>)
            .await?;
        assert_eq!(u6.nickname, None);
        assert_eq!(u6.version, 6);
        assert_eq!(User::find(&db, &u.id).await?, Some(u6));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn update_if_version() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("e@x.io")).await?;
        let u2 = User::update(&db, &u.id)
            .if_version(1)
            .set(User::STATUS, Status::Suspended)
            .await?;
        assert_eq!(u2.version, 2);

        let err = User::update(&db, &u.id)
            .if_version(1)
            .set(User::NAME, "late")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionConflict {
                    model: "User",
                    expected: 1,
                    actual: Some(2)
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "version_conflict");
        assert_eq!(User::find(&db, &u.id).await?, Some(u2.clone()));

        let u3 = User::update(&db, &u.id)
            .if_version(2)
            .set(User::NAME, "fresh")
            .await?;
        assert_eq!((u3.version, u3.name.as_str()), (3, "fresh"));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn update_of_a_missing_item_is_not_found_and_creates_nothing() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let err = User::update(&db, &Ulid::new())
            .set(User::STATUS, Status::Suspended)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "User" }), "{err:?}");
        let err = User::update(&db, &Ulid::new())
            .if_version(1)
            .add(User::LOGINS, 1)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "User" }), "{err:?}");
        let err = Post::update(&db, &Ulid::new(), &5i64)
            .set(Post::TAG, Some("t".to_owned()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "Post" }), "{err:?}");
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(raw_scan(&db).await, Vec::new(), "an update never creates");
    Ok(())
}

#[tokio::test]
async fn update_of_a_key_or_version_field_is_rejected_before_sending() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("f@x.io")).await?;
        let author = Ulid::new();
        let p = Post::create(
            &db,
            Post {
                author_id: author,
                seq: 1,
                title: "t".into(),
                published_at: Utc::now(),
                tag: None,
            },
        )
        .await?;
        let sent = counter.count();

        let invalid = |err: Error, needle: &str| match err {
            Error::InvalidRequest { model, reason } => {
                assert!(
                    reason.contains(needle),
                    "{model}: {reason:?} should name {needle}"
                );
            }
            other => panic!("expected InvalidRequest naming {needle}, got {other:?}"),
        };
        // Setting a primary key field does not compile (tests/ui/update_key_field.rs); managed
        // fields are refused when the update is sent.
        invalid(
            User::update(&db, &u.id)
                .set(User::VERSION, 9u64)
                .await
                .unwrap_err(),
            "version",
        );
        invalid(
            User::update(&db, &u.id)
                .add(User::VERSION, 1u64)
                .await
                .unwrap_err(),
            "version",
        );
        // An update that changes nothing, and one that changes a field twice.
        invalid(User::update(&db, &u.id).await.unwrap_err(), "no field");
        invalid(
            User::update(&db, &u.id)
                .set(User::NAME, "a")
                .set(User::NAME, "b")
                .await
                .unwrap_err(),
            "name",
        );
        // Adding to an index key field cannot recompute the index key.
        invalid(
            Task::update(&db, &Ulid::new())
                .add(Task::RANK, 1u32)
                .await
                .unwrap_err(),
            "rank",
        );
        // A version check on a model without a version.
        invalid(
            Post::update(&db, &author, &1i64)
                .if_version(1)
                .set(Post::TITLE, "x")
                .await
                .unwrap_err(),
            "version",
        );
        invalid(
            Post::delete(&db, &author, &1i64)
                .if_version(1)
                .await
                .unwrap_err(),
            "version",
        );
        assert_eq!(counter.count(), sent, "nothing may be sent");
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));
        assert_eq!(Post::find(&db, &author, &1i64).await?, Some(p));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn update_of_one_field_of_a_two_field_index_half_is_rejected() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let a = Task::create(&db, Task::new("b1", "todo", 2, "a")).await?;
        let b = Task::create(&db, Task::new("b1", "todo", 5, "b")).await?;
        let raw_before = raw_get(
            &db,
            &format!("[{t}]#task#{}", a.id),
            &format!("[{t}]#task#_"),
        )
        .await
        .unwrap();
        assert_eq!(
            s(&raw_before, "_gsi2_sk"),
            Some(format!("[{t}]#task#todo#{:016x}", 2).as_str())
        );
        let sent = counter.count();

        for err in [
            Task::update(&db, &a.id)
                .set(Task::RANK, 9u32)
                .await
                .unwrap_err(),
            Task::update(&db, &a.id)
                .set(Task::RANK, 9u32)
                .set(Task::TITLE, "x")
                .await
                .unwrap_err(),
        ] {
            match err {
                Error::InvalidRequest {
                    model: "Task",
                    reason,
                } => {
                    assert!(
                        reason.contains("lane"),
                        "names the missing field: {reason:?}"
                    );
                    assert!(reason.contains("by_board"), "names the index: {reason:?}");
                }
                other => panic!("expected InvalidRequest, got {other:?}"),
            }
        }
        let err = Task::update(&db, &a.id)
            .set(Task::LANE, "done")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest { reason, .. } if reason.contains("rank")),
            "{err:?}"
        );
        assert_eq!(counter.count(), sent, "nothing sent");
        let raw_after = raw_get(
            &db,
            &format!("[{t}]#task#{}", a.id),
            &format!("[{t}]#task#_"),
        )
        .await
        .unwrap();
        assert_eq!(raw_after, raw_before, "nothing changed");

        // Both fields given: the half is recomputed and the index order follows.
        let order = |v: Vec<Task>| v.into_iter().map(|t| t.title).collect::<Vec<_>>();
        assert_eq!(
            order(Task::query_by_board(&db, "b1").all().await?),
            ["a", "b"]
        );
        let a2 = Task::update(&db, &a.id)
            .set(Task::LANE, "todo")
            .set(Task::RANK, 9u32)
            .await?;
        assert_eq!((a2.rank, a2.version), (9, 2));
        assert_eq!(
            order(Task::query_by_board(&db, "b1").all().await?),
            ["b", "a"]
        );
        // A field of the other half (the index partition) alone is fine.
        Task::update(&db, &b.id).set(Task::BOARD, "b2").await?;
        assert_eq!(order(Task::query_by_board(&db, "b1").all().await?), ["a"]);
        assert_eq!(order(Task::query_by_board(&db, "b2").all().await?), ["b"]);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn update_of_an_index_field_moves_the_item_in_one_request() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let u = User::create(&db, User::new("g@x.io")).await?;
        let other = User::create(&db, User::new("h@x.io")).await?;
        let ids = |v: Vec<User>| v.into_iter().map(|u| u.id).collect::<Vec<_>>();
        assert_eq!(
            ids(User::query_by_status(&db, &Status::Active).all().await?),
            [u.id, other.id]
        );

        let before = counter.count();
        let moved = User::update(&db, &u.id)
            .set(User::STATUS, Status::Suspended)
            .await?;
        assert_eq!(
            counter.count(),
            before + 1,
            "exactly one request, no read first"
        );
        assert_eq!(moved.status, Status::Suspended);

        assert_eq!(
            ids(User::query_by_status(&db, &Status::Active).all().await?),
            [other.id]
        );
        assert_eq!(
            ids(User::query_by_status(&db, &Status::Suspended).all().await?),
            [u.id]
        );
        let raw = raw_get(&db, &user_pk(&t, u.id), &user_sk(&t))
            .await
            .unwrap();
        assert_eq!(
            s(&raw, "_gsi1_pk"),
            Some(format!("[{t}]#u#suspended").as_str())
        );
        // The other half of the index is untouched.
        assert_eq!(
            s(&raw, "_gsi1_sk"),
            Some(format!("[{t}]#u#{}", ts_key(&u.created_at)).as_str())
        );

        // Changing the email moves it in by_email.
        let before = counter.count();
        User::update(&db, &u.id).set(User::EMAIL, "g2@x.io").await?;
        assert_eq!(counter.count(), before + 1);
        assert!(User::query_by_email(&db, "g@x.io").all().await?.is_empty());
        assert_eq!(
            ids(User::query_by_email(&db, "g2@x.io").all().await?),
            [u.id]
        );

        // Changing created_at (the by_status sort half) reorders the index.
        User::update(&db, &u.id)
            .set(User::STATUS, Status::Active)
            .await?;
        assert_eq!(
            ids(User::query_by_status(&db, &Status::Active).all().await?),
            [u.id, other.id]
        );
        let early = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap();
        let before = counter.count();
        let moved = User::update(&db, &other.id)
            .set(User::CREATED_AT, early)
            .await?;
        assert_eq!(counter.count(), before + 1);
        assert_eq!(moved.created_at, early);
        assert_eq!(
            ids(User::query_by_status(&db, &Status::Active).all().await?),
            [other.id, u.id]
        );
        let raw = raw_get(&db, &user_pk(&t, other.id), &user_sk(&t))
            .await
            .unwrap();
        assert_eq!(
            s(&raw, "_gsi1_sk"),
            Some(format!("[{t}]#u#1999-12-31T23:59:59.000000000Z").as_str())
        );
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn optional_index_field_set_to_none_leaves_the_sparse_index_and_comes_back() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let author = Ulid::new();
        let mk = |seq: i64, tag: Option<&str>| Post {
            author_id: author,
            seq,
            title: format!("p{seq}"),
            published_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, seq as u32).unwrap(),
            tag: tag.map(str::to_owned),
        };
        let seqs = |v: Vec<Post>| v.into_iter().map(|p| p.seq).collect::<Vec<_>>();
        Post::create(&db, mk(1, Some("rust"))).await?;
        Post::create(&db, mk(2, Some("rust"))).await?;
        let untagged = Post::create(&db, mk(3, None)).await?;
        assert_eq!(seqs(Post::query_by_tag(&db, "rust").all().await?), [1, 2]);
        let pk = format!("[{t}]#post#{author}");
        let raw = raw_get(&db, &pk, &format!("[{t}]#post#{:016x}", 3u64 ^ (1 << 63)))
            .await
            .unwrap();
        assert!(
            !raw.contains_key("_gsi3_pk"),
            "untagged post has no by_tag key: {raw:?}"
        );
        assert_eq!(untagged.tag, None);

        let p1 = Post::update(&db, &author, &1i64)
            .set(Post::TAG, None::<String>)
            .await?;
        assert_eq!(p1.tag, None);
        assert_eq!(seqs(Post::query_by_tag(&db, "rust").all().await?), [2]);
        let sk1 = format!("[{t}]#post#{:016x}", 1u64 ^ (1 << 63));
        assert!(!raw_get(&db, &pk, &sk1)
            .await
            .unwrap()
            .contains_key("_gsi3_pk"));

        Post::update(&db, &author, &1i64)
            .set(Post::TAG, Some("rust".to_owned()))
            .await?;
        assert_eq!(seqs(Post::query_by_tag(&db, "rust").all().await?), [1, 2]);

        // remove() leaves the index too, and setting another value moves it.
        Post::update(&db, &author, &2i64).remove(Post::TAG).await?;
        Post::update(&db, &author, &3i64)
            .set(Post::TAG, "go".to_owned())
            .await?;
        assert_eq!(seqs(Post::query_by_tag(&db, "rust").all().await?), [1]);
        assert_eq!(seqs(Post::query_by_tag(&db, "go").all().await?), [3]);

        // A whole-item put with no tag leaves the index as well.
        Post::put(&db, mk(1, None)).await?;
        assert!(Post::query_by_tag(&db, "rust").all().await?.is_empty());
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// put / replace / delete

#[tokio::test]
async fn put_upserts_and_overwrites() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        // On a free key it creates (filling a nil auto id and updated_at, version as given).
        let mut fresh = User::new("i@x.io");
        fresh.version = 7;
        fresh.nickname = Some("eye".into());
        let before = Utc::now();
        let put = User::put(&db, fresh).await?;
        assert_ne!(put.id, Ulid::nil());
        assert_eq!(put.version, 7);
        assert!(put.updated_at >= before);
        assert_eq!(
            put.created_at,
            DateTime::<Utc>::default(),
            "put does not set created_at"
        );
        assert_eq!(User::find(&db, &put.id).await?, Some(put.clone()));

        // On a taken key it overwrites the whole item, whatever it was.
        let mut over = put.clone();
        over.email = "j@x.io".into();
        over.nickname = None;
        over.status = Status::Suspended;
        over.version = 1;
        let over = User::put(&db, over).await?;
        assert_eq!(User::find(&db, &put.id).await?, Some(over.clone()));
        assert!(User::query_by_email(&db, "i@x.io").all().await?.is_empty());
        assert_eq!(
            User::query_by_email(&db, "j@x.io").all().await?,
            vec![over.clone()]
        );
        assert!(User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .is_empty());
        let raw = raw_get(&db, &user_pk(&t, put.id), &user_sk(&t))
            .await
            .unwrap();
        assert_eq!(raw.get("version"), Some(&av_n(1)));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn replace_checks_existence_and_version() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // Missing item.
        let mut ghost = User::new("k@x.io");
        ghost.id = Ulid::new();
        ghost.version = 1;
        let err = User::replace(&db, ghost.clone()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "User" }), "{err:?}");
        assert_eq!(User::find(&db, &ghost.id).await?, None);

        let u = User::create(&db, User::new("l@x.io")).await?;
        let stale = u.clone();
        let u2 = User::update(&db, &u.id).add(User::LOGINS, 1).await?;
        assert_eq!(u2.version, 2);

        let mut edit = stale.clone();
        edit.name = "stale edit".into();
        let err = User::replace(&db, edit).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionConflict {
                    model: "User",
                    expected: 1,
                    actual: Some(2)
                }
            ),
            "{err:?}"
        );
        assert_eq!(User::find(&db, &u.id).await?, Some(u2.clone()));

        tick().await;
        let mut edit = u2.clone();
        edit.name = "current edit".into();
        let u3 = User::replace(&db, edit).await?;
        assert_eq!(u3.version, 3, "replace bumps the version");
        assert_eq!(u3.name, "current edit");
        assert!(u3.updated_at > u2.updated_at);
        assert_eq!(u3.created_at, u.created_at);
        assert_eq!(User::find(&db, &u.id).await?, Some(u3.clone()));

        // The value just written is now stale too.
        let err = User::replace(&db, u2).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionConflict {
                    expected: 2,
                    actual: Some(3),
                    ..
                }
            ),
            "{err:?}"
        );

        // A model without a version: replace needs the item to exist, nothing more.
        let author = Ulid::new();
        let mut p = Post {
            author_id: author,
            seq: 4,
            title: "v1".into(),
            published_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            tag: None,
        };
        let err = Post::replace(&db, p.clone()).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "Post" }), "{err:?}");
        assert_eq!(Post::find(&db, &author, &4i64).await?, None);
        Post::create(&db, p.clone()).await?;
        p.title = "v2".into();
        assert_eq!(Post::replace(&db, p.clone()).await?, p);
        assert_eq!(Post::find(&db, &author, &4i64).await?, Some(p));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn delete_returns_the_item_and_then_not_found() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("m@x.io")).await?;
        let deleted = User::delete(&db, &u.id).await?;
        assert_eq!(deleted, u);
        assert_eq!(User::find(&db, &u.id).await?, None);
        let err = User::delete(&db, &u.id).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { model: "User" }), "{err:?}");
        assert!(User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .is_empty());

        // Versioned delete.
        let v = User::create(&db, User::new("n@x.io")).await?;
        User::update(&db, &v.id).add(User::LOGINS, 1).await?;
        let err = User::delete(&db, &v.id).if_version(1).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionConflict {
                    model: "User",
                    expected: 1,
                    actual: Some(2)
                }
            ),
            "{err:?}"
        );
        assert!(User::find(&db, &v.id).await?.is_some());
        let gone = User::delete(&db, &v.id).if_version(2).await?;
        assert_eq!((gone.version, gone.logins), (2, 1));

        // Composite keys: only the addressed item goes.
        let author = Ulid::new();
        for seq in [-1i64, 0, 1] {
            Post::create(
                &db,
                Post {
                    author_id: author,
                    seq,
                    title: seq.to_string(),
                    published_at: Utc::now(),
                    tag: None,
                },
            )
            .await?;
        }
        assert_eq!(Post::delete(&db, &author, &0i64).await?.seq, 0);
        let left: Vec<i64> = Post::query(&db, &author)
            .all()
            .await?
            .into_iter()
            .map(|p| p.seq)
            .collect();
        assert_eq!(left, [-1, 1]);
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(raw_scan(&db).await.len(), 2);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// user conditions

#[tokio::test]
async fn update_condition_failure_carries_the_stored_item() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("o@x.io")).await?;
        let u = User::update(&db, &u.id).add(User::LOGINS, 3).await?;

        let err = User::update(&db, &u.id)
            .set(User::STATUS, Status::Suspended)
            .condition(User::LOGINS.gt(5u32))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConditionFailed {
                    model: "User",
                    current: Some(_)
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "condition_failed");
        let current = err.current_item::<User>().expect("carries the item")?;
        assert_eq!(current, u);
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));

        // With if_version at the right version, a failing user condition is still
        // ConditionFailed, not a version conflict.
        let err = User::update(&db, &u.id)
            .if_version(u.version)
            .set(User::NAME, "x")
            .condition(User::LOGINS.gt(5u32))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConditionFailed {
                    current: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );

        // Holding conditions, combined.
        let ok = User::update(&db, &u.id)
            .set(User::STATUS, Status::Suspended)
            .condition(User::LOGINS.ge(3u32))
            .condition(User::EMAIL.begins_with("o@"))
            .condition(
                User::NICKNAME
                    .not_exists()
                    .or(User::NICKNAME.eq(None::<String>)),
            )
            .await?;
        assert_eq!(ok.status, Status::Suspended);
        let ok = User::update(&db, &u.id)
            .add(User::LOGINS, 1)
            .condition(
                User::STATUS
                    .is_in([Status::Suspended])
                    .and(!User::LOGINS.lt(3u32)),
            )
            .await?;
        assert_eq!(ok.logins, 4);

        // current_item is None for other errors.
        let nf = User::update(&db, &Ulid::new())
            .set(User::NAME, "x")
            .await
            .unwrap_err();
        assert!(nf.current_item::<User>().is_none());
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn delete_with_a_failing_condition_keeps_the_item() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("p@x.io")).await?;
        let err = User::delete(&db, &u.id)
            .condition(User::STATUS.eq(Status::Suspended))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConditionFailed {
                    model: "User",
                    current: Some(_)
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.current_item::<User>().transpose()?, Some(u.clone()));
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));
        let gone = User::delete(&db, &u.id)
            .condition(User::STATUS.eq(Status::Active))
            .await?;
        assert_eq!(gone, u);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn create_and_put_with_a_condition() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        // A condition that holds on an absent item.
        let u = User::create(&db, User::new("q@x.io"))
            .condition(User::NICKNAME.not_exists())
            .await?;
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));

        // A condition that cannot hold on an absent item: ConditionFailed, nothing stored.
        let mut v = User::new("r@x.io");
        v.id = Ulid::new();
        let err = User::create(&db, v.clone())
            .condition(User::LOGINS.gt(5u32))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConditionFailed {
                    model: "User",
                    current: None
                }
            ),
            "{err:?}"
        );
        assert_eq!(User::find(&db, &v.id).await?, None);

        // On a taken key, create is AlreadyExists even with a condition.
        let err = User::create(&db, u.clone())
            .condition(User::NICKNAME.not_exists())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");

        // put with a condition on the stored item.
        let mut w = u.clone();
        w.name = "changed".into();
        let err = User::put(&db, w.clone())
            .condition(User::LOGINS.gt(0u32))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ConditionFailed {
                    current: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.current_item::<User>().transpose()?, Some(u.clone()));
        let w = User::put(&db, w).condition(User::LOGINS.eq(0u32)).await?;
        assert_eq!(User::find(&db, &u.id).await?, Some(w));
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// rendered requests

#[tokio::test]
async fn to_request_renders_exact_keys_and_expressions() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    let sent = counter.count();
    TenantContext::run_with_tenant(t.clone(), async {
        let id = Ulid::new();
        let key = values(vec![
            ("_pk", av_s(user_pk(&t, id))),
            ("_sk", av_s(user_sk(&t))),
        ]);

        // find
        let get = User::find(&db, &id).to_request().await?;
        assert_eq!(get.table_name(), Some(db.table()));
        assert_eq!(get.key(), Some(&key));

        // create
        let mut u = User::new("a#b@x.io");
        u.id = id;
        let put = User::create(&db, u.clone())
            .condition(User::NICKNAME.not_exists())
            .to_request()
            .await?;
        assert_eq!(put.table_name(), Some(db.table()));
        assert_eq!(
            put.condition_expression(),
            Some("attribute_not_exists(#n0) AND attribute_not_exists(#n1)")
        );
        assert_eq!(
            put.expression_attribute_names(),
            Some(&names(&[("#n0", "_pk"), ("#n1", "nickname")]))
        );
        assert_eq!(put.expression_attribute_values(), None);
        assert_eq!(
            put.return_values_on_condition_check_failure(),
            Some(&ReturnValuesOnConditionCheckFailure::AllOld)
        );
        let item = put.item().unwrap();
        let created: DateTime<Utc> = s(item, "created_at").unwrap().parse().unwrap();
        assert_eq!(s(item, "_pk"), Some(user_pk(&t, id).as_str()));
        assert_eq!(s(item, "_sk"), Some(user_sk(&t).as_str()));
        assert_eq!(
            s(item, "_gsi1_pk"),
            Some(format!("[{t}]#u#active").as_str())
        );
        assert_eq!(
            s(item, "_gsi1_sk"),
            Some(format!("[{t}]#u#{}", ts_key(&created)).as_str())
        );
        assert_eq!(
            s(item, "_gsi2_pk"),
            Some(format!("[{t}]#u#a$cb@x.io").as_str())
        );
        assert_eq!(s(item, "_gsi2_sk"), Some(format!("[{t}]#u#_").as_str()));
        assert_eq!(s(item, "email"), Some("a#b@x.io"));
        assert_eq!(s(item, "id"), Some(id.to_string().as_str()));
        assert_eq!(item.get("version"), Some(&av_n(1)));
        assert_eq!(item.get("logins"), Some(&av_n(0)));
        let mut attrs: Vec<&str> = item.keys().map(String::as_str).collect();
        attrs.sort_unstable();
        assert_eq!(
            attrs,
            [
                "_gsi1_pk",
                "_gsi1_sk",
                "_gsi2_pk",
                "_gsi2_sk",
                "_pk",
                "_sk",
                "created_at",
                "email",
                "id",
                "logins",
                "name",
                "nickname",
                "status",
                "updated_at",
                "version"
            ]
        );

        // put (upsert): no condition at all.
        let upsert = User::put(&db, u.clone()).to_request().await?;
        assert_eq!(upsert.condition_expression(), None);
        assert_eq!(upsert.expression_attribute_names(), None);

        // replace: existence and version.
        let mut r = u.clone();
        r.version = 4;
        let replace = User::replace(&db, r).to_request().await?;
        assert_eq!(
            replace.condition_expression(),
            Some("attribute_exists(#n0) AND #n1 = :v0")
        );
        assert_eq!(
            replace.expression_attribute_names(),
            Some(&names(&[("#n0", "_pk"), ("#n1", "version")]))
        );
        assert_eq!(
            replace.expression_attribute_values(),
            Some(&values(vec![(":v0", av_n(4))]))
        );
        assert_eq!(replace.item().unwrap().get("version"), Some(&av_n(5)));

        // update
        let upd = User::update(&db, &id)
            .set(User::STATUS, Status::Suspended)
            .condition(User::LOGINS.gt(5u32))
            .to_request()
            .await?;
        assert_eq!(upd.table_name(), Some(db.table()));
        assert_eq!(upd.key(), Some(&key));
        assert_eq!(
            upd.update_expression(),
            Some("SET #n0 = :v0, #n1 = :v1, #n3 = :v3 ADD #n2 :v2")
        );
        assert_eq!(
            upd.condition_expression(),
            Some("attribute_exists(#n4) AND #n5 > :v4")
        );
        assert_eq!(
            upd.expression_attribute_names(),
            Some(&names(&[
                ("#n0", "status"),
                ("#n1", "updated_at"),
                ("#n2", "version"),
                ("#n3", "_gsi1_pk"),
                ("#n4", "_pk"),
                ("#n5", "logins"),
            ]))
        );
        let mut vals = upd.expression_attribute_values().unwrap().clone();
        let now = vals.remove(":v1").expect("updated_at value");
        assert!(matches!(now, AttributeValue::S(_)), "{now:?}");
        assert_eq!(
            vals,
            values(vec![
                (":v0", av_s("suspended")),
                (":v2", av_n(1)),
                (":v3", av_s(format!("[{t}]#u#suspended"))),
                (":v4", av_n(5)),
            ])
        );
        assert_eq!(upd.return_values(), Some(&ReturnValue::AllNew));
        assert_eq!(
            upd.return_values_on_condition_check_failure(),
            Some(&ReturnValuesOnConditionCheckFailure::AllOld)
        );

        // update with if_version reuses the version placeholder.
        let upd = User::update(&db, &id)
            .if_version(7)
            .remove(User::NICKNAME)
            .to_request()
            .await?;
        assert_eq!(
            upd.update_expression(),
            Some("SET #n1 = :v0 REMOVE #n0 ADD #n2 :v1")
        );
        assert_eq!(
            upd.condition_expression(),
            Some("attribute_exists(#n3) AND #n2 = :v2")
        );
        assert_eq!(
            upd.expression_attribute_names(),
            Some(&names(&[
                ("#n0", "nickname"),
                ("#n1", "updated_at"),
                ("#n2", "version"),
                ("#n3", "_pk"),
            ]))
        );
        let vals = upd.expression_attribute_values().unwrap();
        assert_eq!(vals.get(":v1"), Some(&av_n(1)));
        assert_eq!(vals.get(":v2"), Some(&av_n(7)));

        // delete
        let del = User::delete(&db, &id)
            .if_version(3)
            .condition(User::STATUS.eq(Status::Active))
            .to_request()
            .await?;
        assert_eq!(del.table_name(), Some(db.table()));
        assert_eq!(del.key(), Some(&key));
        assert_eq!(
            del.condition_expression(),
            Some("attribute_exists(#n0) AND #n1 = :v0 AND #n2 = :v1")
        );
        assert_eq!(
            del.expression_attribute_names(),
            Some(&names(&[
                ("#n0", "_pk"),
                ("#n1", "version"),
                ("#n2", "status")
            ]))
        );
        assert_eq!(
            del.expression_attribute_values(),
            Some(&values(vec![(":v0", av_n(3)), (":v1", av_s("active"))]))
        );
        assert_eq!(del.return_values(), Some(&ReturnValue::AllOld));

        // query on the table, with a composite primary key and a sort key
        let author = Ulid::new();
        let q = Post::query(&db, &author)
            .descending()
            .limit(10)
            .to_request()
            .await?;
        assert_eq!(q.table_name(), Some(db.table()));
        assert_eq!(q.index_name(), None);
        assert_eq!(
            q.key_condition_expression(),
            Some("#n0 = :v0 AND begins_with(#n1, :v1)")
        );
        assert_eq!(
            q.expression_attribute_names(),
            Some(&names(&[("#n0", "_pk"), ("#n1", "_sk")]))
        );
        assert_eq!(
            q.expression_attribute_values(),
            Some(&values(vec![
                (":v0", av_s(format!("[{t}]#post#{author}"))),
                (":v1", av_s(format!("[{t}]#post#"))),
            ]))
        );
        assert_eq!(q.scan_index_forward(), Some(false));
        assert_eq!(q.limit(), Some(10));

        let q = Reading::query(&db, "a#b c", &7u16)
            .consistent()
            .to_request()
            .await?;
        assert_eq!(
            q.expression_attribute_values().unwrap().get(":v0"),
            Some(&av_s(format!("[{t}]#rd#a$cb$`c#{:016x}", 7)))
        );
        assert_eq!(q.consistent_read(), Some(true));

        // query on an index
        let q = User::query_by_status(&db, &Status::Active)
            .to_request()
            .await?;
        assert_eq!(q.index_name(), Some("gsi1"));
        assert_eq!(
            q.key_condition_expression(),
            Some("#n0 = :v0 AND begins_with(#n1, :v1)")
        );
        assert_eq!(
            q.expression_attribute_names(),
            Some(&names(&[("#n0", "_gsi1_pk"), ("#n1", "_gsi1_sk")]))
        );
        assert_eq!(
            q.expression_attribute_values(),
            Some(&values(vec![
                (":v0", av_s(format!("[{t}]#u#active"))),
                (":v1", av_s(format!("[{t}]#u#"))),
            ]))
        );
        assert_eq!(q.scan_index_forward(), Some(true));
        assert_eq!(q.limit(), None);
        let q = Post::query_by_tag(&db, "x]#[y").to_request().await?;
        assert_eq!(q.index_name(), Some("gsi3"));
        assert_eq!(
            q.expression_attribute_values().unwrap().get(":v0"),
            Some(&av_s(format!("[{t}]#post#x]$c[y")))
        );

        // A strongly consistent read on an index does not exist.
        let err = User::query_by_status(&db, &Status::Active)
            .consistent()
            .to_request()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { model: "User", .. }),
            "{err:?}"
        );
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(counter.count(), sent, "to_request sends nothing");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TTL and stored names

#[tokio::test]
async fn ttl_is_stored_as_epoch_seconds_under_camel_case_names() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let expires = Utc.with_ymd_and_hms(2031, 7, 8, 9, 10, 11).unwrap();
        let sess = Session {
            session_id: "s 1#x".into(),
            user_name: "ann".into(),
            expires_at: expires,
        };
        let created = Session::create(&db, sess.clone()).await?;
        assert_eq!(created, sess);
        assert_eq!(Session::find(&db, "s 1#x").await?, Some(sess.clone()));

        let raw = raw_get(
            &db,
            &format!("[{t}]#sess#s$`1$cx"),
            &format!("[{t}]#sess#_"),
        )
        .await
        .expect("stored under the escaped key");
        assert_eq!(raw.get("_ttl"), Some(&av_n(expires.timestamp())));
        assert_eq!(s(&raw, "sessionId"), Some("s 1#x"));
        assert_eq!(s(&raw, "userName"), Some("ann"));
        let mut attrs: Vec<&str> = raw.keys().map(String::as_str).collect();
        attrs.sort_unstable();
        assert_eq!(attrs, ["_pk", "_sk", "_ttl", "sessionId", "userName"]);

        // The field constants carry the stored names.
        assert_eq!(Session::USER_NAME.attr(), "userName");
        assert_eq!(Session::SESSION_ID.attr(), "sessionId");
        assert_eq!(Session::EXPIRES_AT.attr(), "_ttl");

        // Updates and conditions on the TTL field use epoch seconds too.
        let later = expires + chrono::Duration::days(1);
        let err = Session::update(&db, "s 1#x")
            .set(Session::EXPIRES_AT, later)
            .condition(Session::EXPIRES_AT.gt(later))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ConditionFailed { .. }), "{err:?}");
        let moved = Session::update(&db, "s 1#x")
            .set(Session::EXPIRES_AT, later)
            .set(Session::USER_NAME, "bob")
            .condition(Session::EXPIRES_AT.lt(later))
            .await?;
        assert_eq!(moved.expires_at, later);
        assert_eq!(moved.user_name, "bob");
        let raw = raw_get(
            &db,
            &format!("[{t}]#sess#s$`1$cx"),
            &format!("[{t}]#sess#_"),
        )
        .await
        .unwrap();
        assert_eq!(raw.get("_ttl"), Some(&av_n(later.timestamp())));
        assert_eq!(s(&raw, "userName"), Some("bob"));

        // Before 1970 is a negative epoch and still round-trips.
        let old = Session {
            session_id: "old".into(),
            user_name: "c".into(),
            expires_at: Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(),
        };
        Session::create(&db, old.clone()).await?;
        assert_eq!(Session::find(&db, "old").await?, Some(old));
        Ok::<_, Error>(())
    })
    .await
}

/// `create` documents that it "returns the value as stored"; a TTL with a fraction of a second is
/// stored as whole epoch seconds, so what create returns and what find reads back must agree.
#[tokio::test]
async fn ttl_with_a_fraction_of_a_second_reads_back_as_created() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let expires = Utc.timestamp_opt(1_900_000_000, 750_000_000).unwrap();
        let created = Session::create(
            &db,
            Session {
                session_id: "frac".into(),
                user_name: "d".into(),
                expires_at: expires,
            },
        )
        .await?;
        let found = Session::find(&db, "frac").await?.unwrap();
        assert_eq!(
            found, created,
            "create returned a value that is not what is stored"
        );
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// key values that cannot be encoded

#[tokio::test]
async fn nan_and_year_10000_key_values_are_rejected_before_sending() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    let sent = counter.count();
    TenantContext::run_with_tenant(t.clone(), async {
        let ok_at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        let reading = |value: f64, at: DateTime<Utc>| Reading {
            sensor: "s".into(),
            day: 1,
            value,
            at,
            note: String::new(),
        };
        fn is_invalid<T: std::fmt::Debug>(r: Result<T, Error>, field: &str) {
            match r {
                Err(Error::InvalidKeyValue { field: f, reason }) => {
                    assert_eq!(f, field, "{reason}");
                    assert!(!reason.is_empty());
                }
                other => panic!("expected InvalidKeyValue for {field}, got {other:?}"),
            }
        }

        is_invalid(
            Reading::create(&db, reading(f64::NAN, ok_at)).await,
            "value",
        );
        is_invalid(Reading::put(&db, reading(f64::NAN, ok_at)).await, "value");
        is_invalid(
            Reading::replace(&db, reading(f64::NAN, ok_at)).await,
            "value",
        );
        is_invalid(Reading::create(&db, reading(1.0, far)).await, "at");
        is_invalid(
            Reading::find(&db, "s", &1u16, &f64::NAN, &ok_at).await,
            "value",
        );
        is_invalid(Reading::find(&db, "s", &1u16, &1.0f64, &far).await, "at");
        is_invalid(
            Reading::update(&db, "s", &1u16, &f64::NAN, &ok_at)
                .set(Reading::NOTE, "x")
                .await,
            "value",
        );
        is_invalid(Reading::delete(&db, "s", &1u16, &1.0f64, &far).await, "at");
        is_invalid(
            Reading::find(&db, "s", &1u16, &f64::NAN, &ok_at)
                .to_request()
                .await,
            "value",
        );

        // Index key values are checked the same way, on create and on update.
        let author = Ulid::new();
        let post = |published_at| Post {
            author_id: author,
            seq: 1,
            title: "t".into(),
            published_at,
            tag: None,
        };
        is_invalid(Post::create(&db, post(far)).await, "published_at");
        is_invalid(
            Post::update(&db, &author, &1i64)
                .set(Post::PUBLISHED_AT, far)
                .await,
            "published_at",
        );
        // A year before 0 as well.
        let bc = Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap();
        is_invalid(Post::create(&db, post(bc)).await, "published_at");
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(counter.count(), sent, "no request may be sent");
    assert!(raw_scan(&db).await.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_derived_patch_is_one_update_from_a_json_body() -> R {
    use crate::models::{Status, UserPatch};
    use dynabao::ops::Patch;
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let mut u = User::new("pat@x.io");
        u.nickname = Some("p".into());
        let u = User::create(&db, u).await?;

        // A PATCH body: the fields it names change, `null` removes an optional one.
        let patch: UserPatch =
            serde_json::from_str(r#"{"status": "suspended", "nickname": null, "logins": 3}"#)
                .expect("a patch");
        assert!(!patch.is_empty());
        let patched = User::update(&db, &u.id)
            .patch(patch)
            .if_version(u.version)
            .await?;
        assert_eq!(patched.status, Status::Suspended);
        assert_eq!(patched.nickname, None);
        assert_eq!((patched.logins, patched.email.as_str()), (3, "pat@x.io"));
        assert_eq!(patched.version, u.version + 1);
        // The index key moved with the field.
        assert_eq!(
            User::query_by_status(&db, &Status::Suspended)
                .count()
                .await?,
            1
        );
        assert_eq!(
            User::query_by_status(&db, &Status::Active).count().await?,
            0
        );

        // Stale version: nothing written.
        let stale = User::update(&db, &u.id)
            .patch(UserPatch {
                name: Some("x".into()),
                ..UserPatch::default()
            })
            .if_version(u.version)
            .await;
        assert!(
            matches!(stale, Err(Error::VersionConflict { .. })),
            "{stale:?}"
        );

        // Key and managed fields, and unknown ones, are not part of a patch.
        for body in [
            r#"{"id": "01J00000000000000000000000"}"#,
            r#"{"version": 9}"#,
            r#"{"nick": "x"}"#,
        ] {
            assert!(serde_json::from_str::<UserPatch>(body).is_err(), "{body}");
        }
        // An empty patch is an empty update, refused before anything is sent.
        let empty = UserPatch::default();
        assert!(empty.is_empty());
        let refused = User::update(&db, &u.id).patch(empty).await;
        assert!(
            matches!(refused, Err(Error::InvalidRequest { .. })),
            "{refused:?}"
        );
        Ok::<_, Error>(())
    })
    .await
}
