//! Tenancy against a real engine: fail closed, isolation of equal ids, nesting and spawning,
//! cross-tenant reads, global models and tenancy off.
//!
//! These tests never touch the process-wide fallback or the resolver chain: tests run in
//! parallel, and a fallback tenant would break every other test's fail-closed checks.

use chrono::{TimeZone, Utc};
use dynabao::tenant::spawn_in_tenant;
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_db_with, fresh_tenant, RequestCounter};
use dynabao::{Error, Item, Tenancy, TenantContext, TenantId};
use ulid::Ulid;

use crate::models::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

fn is_tenant_required<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    match r {
        Err(Error::TenantRequired) => {}
        other => panic!("{what}: expected TenantRequired, got {other:?}"),
    }
}

fn post(author: Ulid, seq: i64, tag: Option<&str>) -> Post {
    Post {
        author_id: author,
        seq,
        title: format!("post {seq}"),
        published_at: Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
        tag: tag.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------------
// fail closed

#[tokio::test]
async fn without_a_tenant_every_operation_fails_closed_and_sends_nothing() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    // Something to find, so a leak would have an item to return.
    let t = fresh_tenant();
    let author = Ulid::new();
    let u = TenantContext::run_with_tenant(t, async {
        Post::create(&db, post(author, 1, Some("x"))).await?;
        User::create(&db, User::new("a@x.io")).await
    })
    .await?;
    let before = counter.count();
    assert_eq!(
        TenantContext::current(),
        None,
        "the test runs with no tenant"
    );

    let mut given = u.clone();
    given.id = Ulid::new();
    is_tenant_required("create", User::create(&db, given.clone()).await);
    is_tenant_required("put", User::put(&db, given.clone()).await);
    is_tenant_required("replace", User::replace(&db, u.clone()).await);
    is_tenant_required("find", User::find(&db, &u.id).await);
    is_tenant_required("find consistent", User::find(&db, &u.id).consistent().await);
    is_tenant_required(
        "update",
        User::update(&db, &u.id).set(User::NAME, "x").await,
    );
    is_tenant_required("delete", User::delete(&db, &u.id).await);
    is_tenant_required("query", Post::query(&db, &author).await);
    is_tenant_required("query all", Post::query(&db, &author).all().await);
    is_tenant_required(
        "query_by_status",
        User::query_by_status(&db, &Status::Active).await,
    );
    is_tenant_required(
        "query_by_status all",
        User::query_by_status(&db, &Status::Active).all().await,
    );
    is_tenant_required(
        "query_by_email",
        User::query_by_email(&db, "a@x.io").all().await,
    );
    is_tenant_required(
        "query_by_author",
        Post::query_by_author(&db, &author).all().await,
    );
    is_tenant_required("query_by_tag", Post::query_by_tag(&db, "x").all().await);
    is_tenant_required(
        "post create",
        Post::create(&db, post(author, 2, None)).await,
    );
    is_tenant_required(
        "session create",
        Session::create(
            &db,
            Session {
                session_id: "s".into(),
                user_name: "u".into(),
                expires_at: Utc::now(),
            },
        )
        .await,
    );
    // Rendering a request needs the tenant too.
    is_tenant_required("find to_request", User::find(&db, &u.id).to_request().await);
    is_tenant_required(
        "create to_request",
        User::create(&db, given.clone()).to_request().await,
    );
    is_tenant_required(
        "update to_request",
        User::update(&db, &u.id)
            .set(User::NAME, "x")
            .to_request()
            .await,
    );
    is_tenant_required(
        "delete to_request",
        User::delete(&db, &u.id).to_request().await,
    );
    is_tenant_required(
        "query to_request",
        User::query_by_status(&db, &Status::Active)
            .to_request()
            .await,
    );
    // The tenant check comes before validating the request: nothing is sent either way.
    is_tenant_required("empty update", User::update(&db, &u.id).await);

    assert_eq!(counter.count(), before, "no request may reach DynamoDB");
    assert_eq!(raw_scan(&db).await.len(), 2, "nothing was written");
    Ok(())
}

#[tokio::test]
async fn a_bare_spawn_inside_a_tenant_scope_has_no_tenant() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let before = counter.count();
    let (created, found) = TenantContext::run_with_tenant(fresh_tenant(), async {
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            let created = User::create(&db2, User::new("a@x.io")).await;
            let found = User::query_by_status(&db2, &Status::Active).all().await;
            (created, found)
        })
        .await
        .expect("task");
        Ok::<_, Error>(joined)
    })
    .await?;
    is_tenant_required("create in bare spawn", created);
    is_tenant_required("query in bare spawn", found);
    assert_eq!(counter.count(), before);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// isolation

#[tokio::test]
async fn equal_ids_in_two_tenants_stay_apart_on_every_key() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let id = Ulid::new();
    let author = Ulid::new();
    let mut user = User::new("same@x.io");
    user.id = id;

    // The same User id and Post key, with equal field values, in both tenants.
    for t in [&a, &b] {
        TenantContext::run_with_tenant(t, async {
            let u = User::create(&db, user.clone()).await?;
            assert_eq!(u.id, id);
            Post::create(&db, post(author, 1, Some("shared"))).await?;
            Ok::<_, Error>(())
        })
        .await?;
    }
    let raw = raw_scan(&db).await;
    assert_eq!(raw.len(), 4);
    for t in [&a, &b] {
        assert!(
            raw_get(&db, &format!("[{t}]#u#{id}"), &format!("[{t}]#u#_"))
                .await
                .is_some()
        );
    }

    // Each tenant sees exactly one of each, on the table and on every index.
    for t in [&a, &b] {
        TenantContext::run_with_tenant(t, async {
            assert_eq!(User::find(&db, &id).await?.map(|u| u.version), Some(1));
            assert_eq!(
                User::query_by_status(&db, &Status::Active)
                    .all()
                    .await?
                    .len(),
                1
            );
            assert_eq!(User::query_by_email(&db, "same@x.io").all().await?.len(), 1);
            assert_eq!(Post::query(&db, &author).all().await?.len(), 1);
            assert_eq!(Post::query_by_author(&db, &author).all().await?.len(), 1);
            assert_eq!(Post::query_by_tag(&db, "shared").all().await?.len(), 1);
            Ok::<_, Error>(())
        })
        .await?;
    }

    // Writes in A touch only A.
    TenantContext::run_with_tenant(&a, async {
        let u = User::update(&db, &id)
            .set(User::STATUS, Status::Suspended)
            .set(User::EMAIL, "moved@x.io")
            .add(User::LOGINS, 5)
            .await?;
        assert_eq!((u.version, u.logins), (2, 5));
        Post::update(&db, &author, &1i64)
            .set(Post::TAG, None::<String>)
            .set(Post::TITLE, "edited in A")
            .await?;
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&b, async {
        let u = User::find(&db, &id).await?.expect("B's user");
        assert_eq!(
            (u.status, u.email.as_str(), u.logins, u.version),
            (Status::Active, "same@x.io", 0, 1)
        );
        assert_eq!(
            User::query_by_status(&db, &Status::Active).all().await?,
            vec![u.clone()]
        );
        assert!(User::query_by_status(&db, &Status::Suspended)
            .all()
            .await?
            .is_empty());
        assert!(User::query_by_email(&db, "moved@x.io")
            .all()
            .await?
            .is_empty());
        assert_eq!(User::query_by_email(&db, "same@x.io").all().await?, vec![u]);
        let p = Post::find(&db, &author, &1i64).await?.expect("B's post");
        assert_eq!(
            (p.title.as_str(), p.tag.as_deref()),
            ("post 1", Some("shared"))
        );
        assert_eq!(Post::query_by_tag(&db, "shared").all().await?, vec![p]);
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&a, async {
        assert!(User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .is_empty());
        assert_eq!(
            User::query_by_status(&db, &Status::Suspended)
                .all()
                .await?
                .len(),
            1
        );
        assert_eq!(
            User::query_by_email(&db, "moved@x.io").all().await?.len(),
            1
        );
        assert!(User::query_by_email(&db, "same@x.io")
            .all()
            .await?
            .is_empty());
        assert!(Post::query_by_tag(&db, "shared").all().await?.is_empty());

        // A version check in A is against A's version only.
        let err = User::update(&db, &id)
            .if_version(1)
            .set(User::NAME, "x")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::VersionConflict {
                    expected: 1,
                    actual: Some(2),
                    ..
                }
            ),
            "{err:?}"
        );

        // Deletes in A leave B alone.
        assert_eq!(User::delete(&db, &id).await?.version, 2);
        assert_eq!(
            Post::delete(&db, &author, &1i64).await?.title,
            "edited in A"
        );
        assert_eq!(User::find(&db, &id).await?, None);
        let err = User::delete(&db, &id).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&b, async {
        assert_eq!(User::find(&db, &id).await?.map(|u| u.version), Some(1));
        assert_eq!(Post::query(&db, &author).all().await?.len(), 1);
        // An item of B is not "missing" to B because A deleted its twin.
        let u = User::update(&db, &id).add(User::LOGINS, 1).await?;
        assert_eq!(u.version, 2);
        Ok::<_, Error>(())
    })
    .await?;
    let raw = raw_scan(&db).await;
    assert_eq!(raw.len(), 2);
    let prefix = format!("[{b}]#");
    assert!(
        raw.iter()
            .all(|i| s(i, "_pk").unwrap().starts_with(&prefix)),
        "{raw:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// scoping

#[tokio::test]
async fn with_tenant_nests_inside_run_with_tenant_and_restores() -> R {
    let db = fresh_db().await?;
    let (outer, inner) = (fresh_tenant(), fresh_tenant());
    let o =
        TenantContext::run_with_tenant(&outer, User::create(&db, User::new("outer@x.io")).send())
            .await?;
    let i =
        TenantContext::run_with_tenant(&inner, User::create(&db, User::new("inner@x.io")).send())
            .await?;
    let emails = |v: Vec<User>| v.into_iter().map(|u| u.email).collect::<Vec<_>>();

    TenantContext::run_with_tenant(&outer, async {
        assert_eq!(
            emails(User::query_by_status(&db, &Status::Active).all().await?),
            ["outer@x.io"]
        );
        let seen = TenantContext::with_tenant(&inner, async {
            assert_eq!(User::find(&db, &o.id).await?, None);
            assert_eq!(User::find(&db, &i.id).await?, Some(i.clone()));
            tokio::task::yield_now().await;
            let created = User::create(&db, User::new("made-inside@x.io")).await?;
            let all = emails(User::query_by_status(&db, &Status::Active).all().await?);
            Ok::<_, Error>((created, all))
        })
        .await?;
        assert_eq!(seen.1, ["inner@x.io", "made-inside@x.io"]);
        // Back in the outer tenant.
        assert_eq!(User::find(&db, &i.id).await?, None);
        assert_eq!(User::find(&db, &seen.0.id).await?, None);
        assert_eq!(User::find(&db, &o.id).await?, Some(o.clone()));
        assert_eq!(
            emails(User::query_by_status(&db, &Status::Active).all().await?),
            ["outer@x.io"]
        );

        // An error inside the override restores the outer tenant too.
        let failed: R<()> = TenantContext::with_tenant(&inner, async {
            User::update(&db, &o.id).set(User::NAME, "x").await?; // o is not inner's
            Ok(())
        })
        .await;
        assert!(matches!(failed, Err(Error::NotFound { .. })), "{failed:?}");
        assert_eq!(User::find(&db, &o.id).await?, Some(o.clone()));
        Ok::<_, Error>(())
    })
    .await?;
    // The item made inside belongs to the inner tenant.
    let raw = raw_scan(&db).await;
    let made = raw
        .iter()
        .find(|i| s(i, "email") == Some("made-inside@x.io"))
        .expect("created");
    assert!(s(made, "_pk")
        .unwrap()
        .starts_with(&format!("[{inner}]#u#")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_in_tenant_carries_the_tenant_into_the_task() -> R {
    let db = fresh_db().await?;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    let created = TenantContext::run_with_tenant(&t, async {
        let db2 = db.clone();
        let handle = spawn_in_tenant(async move {
            tokio::task::yield_now().await;
            let u = User::create(&db2, User::new("spawned@x.io")).await?;
            tokio::task::yield_now().await;
            let again = User::find(&db2, &u.id).await?;
            assert_eq!(again.as_ref(), Some(&u));
            Ok::<_, Error>(u)
        });
        handle.await.expect("task")
    })
    .await?;
    let raw = raw_get(
        &db,
        &format!("[{t}]#u#{}", created.id),
        &format!("[{t}]#u#_"),
    )
    .await;
    assert!(raw.is_some(), "stored under the spawning tenant");
    TenantContext::run_with_tenant(&t, async {
        assert_eq!(User::find(&db, &created.id).await?, Some(created.clone()));
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&other, async {
        assert_eq!(User::find(&db, &created.id).await?, None);
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// cross-tenant reads

/// A raw User item with every field, under the given key attributes.
fn raw_user(id: Ulid, keys: &[(&str, String)]) -> Item {
    let mut item: Item = [
        ("id", av_s(id.to_string())),
        ("email", av_s("forged@x.io")),
        ("name", av_s("forged")),
        ("status", av_s("active")),
        ("logins", av_n(0)),
        (
            "nickname",
            aws_sdk_dynamodb::types::AttributeValue::Null(true),
        ),
        ("created_at", av_s("2024-01-01T00:00:00Z")),
        ("updated_at", av_s("2024-01-01T00:00:00Z")),
        ("version", av_n(1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in keys {
        item.insert((*k).to_owned(), av_s(v.clone()));
    }
    item
}

fn is_cross_tenant<T: std::fmt::Debug>(r: Result<T, Error>, t: &TenantId, prefix: &str) {
    match r {
        Err(Error::CrossTenant { model, expected }) => {
            assert_eq!(expected, format!("[{t}]#{prefix}#"), "{model}");
        }
        other => panic!("expected CrossTenant, got {other:?}"),
    }
}

#[tokio::test]
async fn an_index_item_whose_primary_key_belongs_to_another_tenant_is_cross_tenant() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let x = Ulid::new();
    let gsi = |t: &TenantId| {
        [
            ("_gsi1_pk", format!("[{t}]#u#active")),
            (
                "_gsi1_sk",
                format!("[{t}]#u#2024-01-01T00:00:00.000000000Z"),
            ),
        ]
    };
    // On A's by_status index, but the item's primary key is B's.
    let [g1, g2] = gsi(&a);
    raw_put(
        &db,
        raw_user(
            x,
            &[
                ("_pk", format!("[{b}]#u#{x}")),
                ("_sk", format!("[{b}]#u#_")),
                g1,
                g2,
                ("_gsi2_pk", format!("[{a}]#u#forged@x.io")),
                ("_gsi2_sk", format!("[{a}]#u#_")),
            ],
        ),
    )
    .await;

    TenantContext::run_with_tenant(&a, async {
        is_cross_tenant(User::query_by_status(&db, &Status::Active).await, &a, "u");
        is_cross_tenant(
            User::query_by_status(&db, &Status::Active).all().await,
            &a,
            "u",
        );
        is_cross_tenant(
            User::query_by_email(&db, "forged@x.io").all().await,
            &a,
            "u",
        );
        // Found by its key in A? No: A's key of x is not where it is stored.
        assert_eq!(User::find(&db, &x).await?, None);
        Ok::<_, Error>(())
    })
    .await?;
    // In B, a find by the real primary key passes the check (the item is B's by its keys).
    TenantContext::run_with_tenant(&b, async {
        assert!(User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .is_empty());
        assert_eq!(User::find(&db, &x).await?.map(|u| u.id), Some(x));
        Ok::<_, Error>(())
    })
    .await?;

    // Only the sort key is foreign: still rejected, both halves are checked.
    let db = fresh_db().await?;
    let [g1, g2] = gsi(&a);
    raw_put(
        &db,
        raw_user(
            x,
            &[
                ("_pk", format!("[{a}]#u#{x}")),
                ("_sk", format!("[{b}]#u#_")),
                g1,
                g2,
            ],
        ),
    )
    .await;
    TenantContext::run_with_tenant(&a, async {
        is_cross_tenant(
            User::query_by_status(&db, &Status::Active).all().await,
            &a,
            "u",
        );
        // A GetItem asks for exactly [A]#u#x / [A]#u#_, which is not this item's key: the
        // forged item cannot come back through find, in either tenant.
        assert_eq!(User::find(&db, &x).await?, None);
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&b, async {
        assert_eq!(User::find(&db, &x).await?, None);
        Ok::<_, Error>(())
    })
    .await?;

    // Right tenant, wrong model: an item whose keys are A's Posts, on A's User index. It is
    // the tenant's own data, just not a User: queries skip it instead of decoding it.
    let db = fresh_db().await?;
    let [g1, g2] = gsi(&a);
    raw_put(
        &db,
        raw_user(
            x,
            &[
                ("_pk", format!("[{a}]#post#{x}")),
                ("_sk", format!("[{a}]#post#8000000000000001")),
                g1,
                g2,
            ],
        ),
    )
    .await;
    TenantContext::run_with_tenant(&a, async {
        assert!(User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .is_empty());
        Ok::<_, Error>(())
    })
    .await?;

    // Next to a real user, the other model's item is still skipped, never decoded as a User.
    TenantContext::run_with_tenant(&a, async {
        let real = User::create(&db, User::new("real@x.io")).await?;
        assert_eq!(
            User::query_by_status(&db, &Status::Active).all().await?,
            vec![real]
        );
        Ok::<_, Error>(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// global models and tenancy off

#[tokio::test]
async fn global_model_keys_have_no_tenant_and_need_none() -> R {
    let db = fresh_db().await?;
    assert_eq!(TenantContext::current(), None);
    let pro = Plan::create(
        &db,
        Plan {
            code: "pro".into(),
            price_cents: 1000,
        },
    )
    .await?;
    let raw = raw_get(&db, "plan#pro", "plan#_")
        .await
        .expect("stored without a tenant");
    assert_eq!(s(&raw, "_pk"), Some("plan#pro"));
    assert_eq!(s(&raw, "_sk"), Some("plan#_"));
    assert_eq!(key_attrs(&raw), ["_pk", "_sk"]);
    assert_eq!(Plan::find(&db, "pro").await?, Some(pro.clone()));

    // Inside any tenant the same item is seen and changed.
    for t in [fresh_tenant(), fresh_tenant()] {
        TenantContext::run_with_tenant(t, async {
            assert_eq!(
                Plan::find(&db, "pro").await?.map(|p| p.code),
                Some("pro".into())
            );
            let p = Plan::update(&db, "pro").add(Plan::PRICE_CENTS, 1).await?;
            let err = Plan::create(&db, p.clone()).await.unwrap_err();
            assert!(
                matches!(err, Error::AlreadyExists { model: "Plan" }),
                "{err:?}"
            );
            Ok::<_, Error>(())
        })
        .await?;
    }
    assert_eq!(
        Plan::find(&db, "pro").await?.map(|p| p.price_cents),
        Some(1002)
    );

    let odd = Plan {
        code: "a#b [c]".into(),
        price_cents: -5,
    };
    TenantContext::run_with_tenant(fresh_tenant(), Plan::put(&db, odd.clone()).send()).await?;
    assert!(raw_get(&db, "plan#a$cb$`[c]", "plan#_").await.is_some());
    assert_eq!(Plan::find(&db, "a#b [c]").await?, Some(odd.clone()));
    assert_eq!(Plan::delete(&db, "a#b [c]").await?, odd);
    let req = Plan::find(&db, "pro").to_request().await?;
    assert_eq!(
        req.key(),
        Some(&values(vec![
            ("_pk", av_s("plan#pro")),
            ("_sk", av_s("plan#_"))
        ]))
    );
    assert_eq!(raw_scan(&db).await.len(), 1);
    Ok(())
}

#[tokio::test]
async fn tenancy_off_keys_have_no_tenant_and_need_none() -> R {
    let db = fresh_db_with(Tenancy::Off).await?;
    assert_eq!(db.tenancy(), Tenancy::Off);
    let u = User::create(&db, User::new("off@x.io")).await?;
    let raw = raw_get(&db, &format!("u#{}", u.id), "u#_")
        .await
        .expect("u#<id>");
    assert_eq!(s(&raw, "_gsi1_pk"), Some("u#active"));
    assert_eq!(
        s(&raw, "_gsi1_sk"),
        Some(format!("u#{}", ts_key(&u.created_at)).as_str())
    );
    assert_eq!(s(&raw, "_gsi2_pk"), Some("u#off@x.io"));
    assert_eq!(s(&raw, "_gsi2_sk"), Some("u#_"));
    assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));
    assert_eq!(
        User::query_by_status(&db, &Status::Active).all().await?,
        vec![u.clone()]
    );
    let author = Ulid::new();
    Post::create(&db, post(author, -3, Some("t"))).await?;
    assert!(raw_get(
        &db,
        &format!("post#{author}"),
        &format!("post#{:016x}", (-3i64 as u64) ^ (1 << 63))
    )
    .await
    .is_some());
    assert_eq!(Post::query_by_tag(&db, "t").all().await?.len(), 1);

    // A tenant in scope changes nothing: the table has one tenant.
    TenantContext::run_with_tenant(fresh_tenant(), async {
        assert_eq!(User::find(&db, &u.id).await?, Some(u.clone()));
        let v = User::create(&db, User::new("off2@x.io")).await?;
        assert!(raw_get(&db, &format!("u#{}", v.id), "u#_").await.is_some());
        User::update(&db, &u.id)
            .set(User::STATUS, Status::Suspended)
            .await?;
        Ok::<_, Error>(())
    })
    .await?;
    let raw = raw_get(&db, &format!("u#{}", u.id), "u#_").await.unwrap();
    assert_eq!(s(&raw, "_gsi1_pk"), Some("u#suspended"));
    assert_eq!(User::delete(&db, &u.id).await?.status, Status::Suspended);
    let q = User::query_by_status(&db, &Status::Active)
        .to_request()
        .await?;
    assert_eq!(
        q.expression_attribute_values(),
        Some(&values(vec![
            (":v0", av_s("u#active")),
            (":v1", av_s("u#"))
        ]))
    );
    for item in raw_scan(&db).await {
        for attr in key_attrs(&item) {
            assert!(
                !s(&item, &attr).unwrap().starts_with('['),
                "{attr}: {item:?}"
            );
        }
    }
    Ok(())
}
