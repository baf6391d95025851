//! The stored layout on a real table: every key attribute of every item carries its tenant and
//! model prefix, adversarial values cannot bend it, tenants whose ids prefix each other stay
//! apart, and DynamoDB's own string order is the value order.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use dynabao::key::{decode_text, parse_key, KeyScope};
use dynabao::testkit::fresh_db;
use dynabao::{Db, Error, Item, TenantContext, TenantId};
use ulid::Ulid;

use crate::models::*;
use crate::support::*;

type R<T = ()> = dynabao::Result<T>;

/// Tenants whose ids prefix each other.
const TENANTS: [&str; 4] = ["acme", "acme-corp", "a", "a.b"];

/// Values that try to look like key structure.
fn adversarial() -> Vec<String> {
    [
        "",
        "#",
        "##",
        "a#b",
        "[x]",
        "]#[",
        "[acme]#u#",
        "#u#x",
        "$",
        "$c",
        "$$#",
        " ",
        "with space",
        "tab\tand\nnewline",
        "ünïcødé 🚀 日本",
        "_",
        "plan#pro",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::nanoseconds(nanos.into())
}

/// Writes items of every model in `tenant`, marking each with the tenant's id.
async fn seed(db: &Db, tenant: &str) -> R {
    TenantContext::run_with_tenant(tenant, async {
        let author = Ulid::from_parts(1, 1); // the same author id in every tenant
        for (n, v) in adversarial().into_iter().enumerate() {
            let mut u = User::new(&v);
            u.name = tenant.to_owned();
            u.nickname = Some(v.clone());
            User::create(db, u).await?;
            Post::create(
                db,
                Post {
                    author_id: author,
                    seq: n as i64 - 5,
                    title: tenant.to_owned(),
                    published_at: at(2024, 1, 1, 0, 0, n as u32, 0),
                    tag: if n % 3 == 0 { None } else { Some(v.clone()) },
                },
            )
            .await?;
            Reading::create(
                db,
                Reading {
                    sensor: v.clone(),
                    day: n as u16,
                    value: n as f64 - 3.5,
                    at: at(2020, 2, 29, 23, 59, 59, 999_999_999),
                    note: tenant.to_owned(),
                },
            )
            .await?;
            Session::create(
                db,
                Session {
                    session_id: v.clone(),
                    user_name: tenant.to_owned(),
                    expires_at: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
                },
            )
            .await?;
            Task::create(db, Task::new(&v, &v, n as u32, tenant)).await?;
        }
        Ok::<_, Error>(())
    })
    .await
}

/// The key attributes each model writes (given whether the optional index field is set), and
/// how many encoded fields each holds (`None`: the no-value marker `_`).
fn expected_keys(prefix: &str, tagged: bool) -> BTreeMap<&'static str, Option<usize>> {
    let v: Vec<(&'static str, Option<usize>)> = match prefix {
        "u" => vec![
            ("_pk", Some(1)),
            ("_sk", None),
            ("_gsi1_pk", Some(1)),
            ("_gsi1_sk", Some(1)),
            ("_gsi2_pk", Some(1)),
            ("_gsi2_sk", None),
        ],
        "post" => {
            let mut v = vec![
                ("_pk", Some(1)),
                ("_sk", Some(1)),
                ("_gsi1_pk", Some(1)),
                ("_gsi1_sk", Some(1)),
            ];
            if tagged {
                v.push(("_gsi3_pk", Some(1)));
                v.push(("_gsi3_sk", Some(2)));
            }
            v
        }
        "rd" => vec![("_pk", Some(2)), ("_sk", Some(2))],
        "sess" => vec![("_pk", Some(1)), ("_sk", None)],
        "task" => vec![
            ("_pk", Some(1)),
            ("_sk", None),
            ("_gsi2_pk", Some(1)),
            ("_gsi2_sk", Some(2)),
        ],
        "plan" => vec![("_pk", Some(1)), ("_sk", None)],
        other => panic!("unknown model prefix {other:?}"),
    };
    v.into_iter().collect()
}

/// The text a key attribute's first part must decode to, for text-keyed halves.
fn text_field(prefix: &str, attr: &str) -> Option<&'static str> {
    match (prefix, attr) {
        ("u", "_gsi2_pk") => Some("email"),
        ("post", "_gsi3_pk") => Some("tag"),
        ("rd", "_pk") => Some("sensor"),
        ("sess", "_pk") => Some("sessionId"),
        ("task", "_gsi2_pk") => Some("board"),
        ("task", "_gsi2_sk") => Some("lane"),
        ("plan", "_pk") => Some("code"),
        _ => None,
    }
}

/// Checks one raw item against the layout; returns (tenant or None, model prefix).
fn check_item(item: &Item, tenants: &BTreeSet<String>) -> (Option<String>, String) {
    let pk = s(item, "_pk").expect("_pk is a string");
    let tenanted = pk.starts_with('[');
    let parsed = parse_key(pk, tenanted).unwrap_or_else(|| panic!("unparsable _pk {pk:?}"));
    let tenant = match &parsed.scope {
        KeyScope::Tenant(t) => {
            assert!(tenants.contains(t.as_str()), "unknown tenant in {pk:?}");
            Some(t.to_string())
        }
        KeyScope::Global => None,
    };
    let prefix = parsed.model_prefix.to_owned();
    assert_eq!(
        tenant.is_none(),
        prefix == "plan",
        "only Plan is global: {pk:?}"
    );
    let expected_start = match &tenant {
        Some(t) => format!("[{t}]#{prefix}#"),
        None => format!("{prefix}#"),
    };

    let tagged = !matches!(
        item.get("tag"),
        None | Some(aws_sdk_dynamodb::types::AttributeValue::Null(_))
    );
    let expected = expected_keys(&prefix, tagged);
    let mut present: BTreeSet<String> = key_attrs(item).into_iter().collect();
    if prefix == "post" && !tagged {
        // The by_tag sort half of an untagged post is written today although the item is not in
        // the index; `untagged_post_writes_no_by_tag_key` pins the design's reading of it.
        present.remove("_gsi3_sk");
    }
    let wanted: BTreeSet<String> = expected.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(present, wanted, "key attributes of {item:?}");

    for (attr, parts) in &expected {
        let value = s(item, attr).unwrap_or_else(|| panic!("{attr} is a string: {item:?}"));
        assert!(
            value.starts_with(&expected_start),
            "{attr} = {value:?} does not start with {expected_start:?}"
        );
        let p = parse_key(value, tenant.is_some())
            .unwrap_or_else(|| panic!("{attr} = {value:?} does not parse"));
        assert_eq!(p.scope, parsed.scope, "{attr} = {value:?}");
        assert_eq!(p.model_prefix, prefix, "{attr} = {value:?}");
        match parts {
            None => assert_eq!(p.parts, ["_"], "{attr} = {value:?}"),
            Some(n) => {
                assert_eq!(p.parts.len(), *n, "{attr} = {value:?} has {n} fields");
                for part in &p.parts {
                    assert!(
                        decode_text(part).is_some(),
                        "{attr}: part {part:?} is not an encoding"
                    );
                }
            }
        }
        if let Some(field) = text_field(&prefix, attr) {
            let stored = s(item, field).unwrap_or_else(|| panic!("{field}: {item:?}"));
            assert_eq!(
                decode_text(p.parts[0]).as_deref(),
                Some(stored),
                "{attr} = {value:?} must encode {field} = {stored:?}"
            );
        }
    }
    (tenant, prefix)
}

#[tokio::test]
async fn every_stored_key_carries_its_tenant_and_model_prefix() -> R {
    let db = fresh_db().await?;
    for t in TENANTS {
        seed(&db, t).await?;
    }
    for v in adversarial() {
        Plan::put(
            &db,
            Plan {
                code: v,
                price_cents: 1,
            },
        )
        .await?;
    }
    let tenants: BTreeSet<String> = TENANTS.iter().map(|t| (*t).to_owned()).collect();
    let items = raw_scan(&db).await;
    let n = adversarial().len();
    assert_eq!(items.len(), TENANTS.len() * n * 5 + n);

    let mut counts: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    let mut all_keys = BTreeSet::new();
    for item in &items {
        let who = check_item(item, &tenants);
        // Every item's marker names the tenant its keys carry.
        if let (Some(t), prefix) = &who {
            let marker = match prefix.as_str() {
                "u" => "name",
                "post" => "title",
                "rd" => "note",
                "sess" => "userName",
                "task" => "title",
                _ => unreachable!(),
            };
            assert_eq!(s(item, marker), Some(t.as_str()), "{item:?}");
        }
        *counts.entry(who).or_default() += 1;
        // No two items share a primary key (the layout is injective).
        let key = (
            s(item, "_pk").unwrap().to_owned(),
            s(item, "_sk").unwrap().to_owned(),
        );
        assert!(all_keys.insert(key), "duplicate key in {item:?}");
    }
    for t in TENANTS {
        for prefix in ["u", "post", "rd", "sess", "task"] {
            assert_eq!(
                counts.get(&(Some(t.to_owned()), prefix.to_owned())),
                Some(&n),
                "{t} {prefix}"
            );
        }
    }
    assert_eq!(counts.get(&(None, "plan".to_owned())), Some(&n));

    // Every adversarial value reads back, through its own key, in every tenant.
    for t in TENANTS {
        TenantContext::run_with_tenant(t, async {
            for (i, v) in adversarial().iter().enumerate() {
                let users = User::query_by_email(&db, v).all().await?;
                assert_eq!(users.len(), 1, "{t}: email {v:?}");
                assert_eq!(
                    (users[0].email.as_str(), users[0].name.as_str()),
                    (v.as_str(), t)
                );
                let sess = Session::find(&db, v).await?.expect("session");
                assert_eq!(
                    (sess.session_id.as_str(), sess.user_name.as_str()),
                    (v.as_str(), t)
                );
                let readings = Reading::query(&db, v, &(i as u16)).all().await?;
                assert_eq!(readings.len(), 1, "{t}: sensor {v:?}");
                assert_eq!(readings[0].sensor, *v);
                let tasks = Task::query_by_board(&db, v).all().await?;
                assert_eq!(tasks.len(), 1, "{t}: board {v:?}");
                assert_eq!(
                    (tasks[0].lane.as_str(), tasks[0].title.as_str()),
                    (v.as_str(), t)
                );
                if i % 3 != 0 {
                    let posts = Post::query_by_tag(&db, v).all().await?;
                    assert_eq!(posts.len(), 1, "{t}: tag {v:?}");
                    assert_eq!(posts[0].tag.as_deref(), Some(v.as_str()));
                }
                assert_eq!(Plan::find(&db, v).await?.map(|p| p.code), Some(v.clone()));
            }
            Ok::<_, Error>(())
        })
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn tenants_whose_ids_prefix_each_other_never_see_each_other() -> R {
    let db = fresh_db().await?;
    for t in TENANTS {
        seed(&db, t).await?;
    }
    let n = adversarial().len();
    let author = Ulid::from_parts(1, 1);
    for t in TENANTS {
        TenantContext::run_with_tenant(t, async {
            let users = User::query_by_status(&db, &Status::Active).all().await?;
            assert_eq!(users.len(), n, "{t}");
            assert!(users.iter().all(|u| u.name == t), "{t}: {users:?}");
            let posts = Post::query(&db, &author).all().await?;
            assert_eq!(posts.len(), n, "{t}");
            assert!(posts.iter().all(|p| p.title == t), "{t}: {posts:?}");
            let posts = Post::query_by_author(&db, &author).all().await?;
            assert_eq!(posts.len(), n, "{t}");
            assert!(posts.iter().all(|p| p.title == t), "{t}");
            for v in adversarial() {
                for u in User::query_by_email(&db, &v).all().await? {
                    assert_eq!(u.name, t);
                }
            }
            // Finding another tenant's item by its exact id finds nothing.
            for other in TENANTS.iter().filter(|o| **o != t) {
                let theirs = TenantContext::with_tenant(*other, async {
                    User::query_by_email(&db, "a#b").all().await
                })
                .await?;
                assert_eq!(theirs.len(), 1);
                assert_eq!(
                    User::find(&db, &theirs[0].id).await?,
                    None,
                    "{t} sees {other}'s user"
                );
                let err = User::update(&db, &theirs[0].id)
                    .set(User::NAME, "x")
                    .await
                    .unwrap_err();
                assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
            }
            Ok::<_, Error>(())
        })
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DynamoDB's order is the value order

#[tokio::test]
async fn integer_sort_keys_sort_by_value_on_dynamodb() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(TenantId::from(Ulid::new()), async {
        let author = Ulid::new();
        let seqs = [1000i64, -1, i64::MAX, 0, -1000, 7, i64::MIN, 1];
        for (n, seq) in seqs.iter().enumerate() {
            Post::create(
                &db,
                Post {
                    author_id: author,
                    seq: *seq,
                    title: format!("#{n}"),
                    // published_at runs against seq, so by_author order differs from seq order.
                    published_at: at(2000 + n as i32, 1, 1, 0, 0, 0, 0),
                    tag: Some("t".into()),
                },
            )
            .await?;
        }
        let mut sorted = seqs.to_vec();
        sorted.sort_unstable();
        let got = |v: Vec<Post>| v.into_iter().map(|p| p.seq).collect::<Vec<_>>();

        assert_eq!(got(Post::query(&db, &author).all().await?), sorted);
        let mut desc = sorted.clone();
        desc.reverse();
        assert_eq!(
            got(Post::query(&db, &author).descending().all().await?),
            desc
        );
        // Across pages too.
        assert_eq!(got(Post::query(&db, &author).limit(3).all().await?), sorted);
        let first = Post::query(&db, &author).limit(3).send().await?;
        assert!(first.has_more());
        assert_eq!(got(first.items), sorted[..3]);
        assert_eq!(
            got(Post::query(&db, &author)
                .descending()
                .limit(3)
                .all()
                .await?),
            desc
        );

        // by_author sorts by published_at: insertion order here.
        assert_eq!(got(Post::query_by_author(&db, &author).all().await?), seqs);

        // by_tag sorts by (author_id, seq): a second author with a larger id comes after.
        let later = Ulid::from_parts(author.timestamp_ms() + 1, 0);
        let earlier = Ulid::from_parts(0, 1);
        for (who, seq) in [(later, i64::MIN), (earlier, i64::MAX), (later, -1)] {
            Post::create(
                &db,
                Post {
                    author_id: who,
                    seq,
                    title: String::new(),
                    published_at: at(2024, 1, 1, 0, 0, 0, 0),
                    tag: Some("t".into()),
                },
            )
            .await?;
        }
        let by_tag: Vec<(Ulid, i64)> = Post::query_by_tag(&db, "t")
            .all()
            .await?
            .into_iter()
            .map(|p| (p.author_id, p.seq))
            .collect();
        let mut expected: Vec<(Ulid, i64)> = seqs.iter().map(|s| (author, *s)).collect();
        expected.extend([(later, i64::MIN), (earlier, i64::MAX), (later, -1)]);
        expected.sort();
        assert_eq!(by_tag, expected);
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn float_and_timestamp_sort_keys_sort_by_value_on_dynamodb() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(TenantId::from(Ulid::new()), async {
        // DynamoDB numbers hold magnitudes 1e-130..1e126, so the extremes stay inside that.
        let values = [
            2.5, -1e120, 0.1, -1000.5, 1e120, -1.0, 1e-100, 0.0, -1e-100, 1.0, -0.25, 1000.5,
        ];
        let times = [
            at(2024, 2, 29, 12, 0, 0, 500_000_000),
            at(1, 1, 1, 0, 0, 0, 0),
            at(9999, 12, 31, 23, 59, 59, 999_999_999),
            at(1969, 12, 31, 23, 59, 59, 999_999_999),
            at(2024, 2, 29, 12, 0, 0, 1),
            at(1970, 1, 1, 0, 0, 0, 0),
            at(0, 1, 1, 0, 0, 0, 0),
        ];
        let mut expected = Vec::new();
        for (i, v) in values.iter().enumerate() {
            // Each value once at a fixed time, and 1.0 at every time (sort key = value, at).
            Reading::create(
                &db,
                Reading {
                    sensor: "s".into(),
                    day: 9,
                    value: *v,
                    at: times[i % times.len()],
                    note: format!("v{i}"),
                },
            )
            .await?;
            expected.push((*v, times[i % times.len()]));
        }
        for (i, t) in times.iter().enumerate() {
            if expected.contains(&(1.0, *t)) {
                continue;
            }
            Reading::create(
                &db,
                Reading {
                    sensor: "s".into(),
                    day: 9,
                    value: 1.0,
                    at: *t,
                    note: format!("t{i}"),
                },
            )
            .await?;
            expected.push((1.0, *t));
        }
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());

        let got: Vec<(f64, DateTime<Utc>)> = Reading::query(&db, "s", &9u16)
            .all()
            .await?
            .into_iter()
            .map(|r| (r.value, r.at))
            .collect();
        assert_eq!(got, expected);
        let mut desc = expected.clone();
        desc.reverse();
        let got_desc: Vec<(f64, DateTime<Utc>)> = Reading::query(&db, "s", &9u16)
            .descending()
            .limit(4)
            .all()
            .await?
            .into_iter()
            .map(|r| (r.value, r.at))
            .collect();
        assert_eq!(got_desc, desc);

        // -0.0 and 0.0 are one key.
        let zero_at = expected.iter().find(|(v, _)| *v == 0.0).unwrap().1;
        let z = Reading::find(&db, "s", &9u16, &-0.0f64, &zero_at).await?;
        assert_eq!(z.map(|r| r.value), Some(0.0));

        // The composite partition (sensor, day) is exact: neither another day nor a sensor whose
        // text continues with what looks like an encoded day is in the partition.
        let day9 = format!("s#{:016x}", 9);
        for (sensor, day) in [
            ("s", 8u16),
            ("s", 10),
            (day9.as_str(), 9),
            ("s#", 9),
            ("", 9),
        ] {
            Reading::create(
                &db,
                Reading {
                    sensor: sensor.into(),
                    day,
                    value: 1.0,
                    at: times[0],
                    note: "other partition".into(),
                },
            )
            .await?;
        }
        let again = Reading::query(&db, "s", &9u16).all().await?;
        assert_eq!(again.len(), expected.len());
        assert!(again.iter().all(|r| r.note != "other partition"));
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn query_by_status_returns_items_in_created_at_order() -> R {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(TenantId::from(Ulid::new()), async {
        // put keeps the given created_at, so the order can be chosen (and shuffled).
        let created = [
            at(2024, 6, 1, 0, 0, 0, 2),
            at(1970, 1, 1, 0, 0, 0, 0),
            at(2024, 6, 1, 0, 0, 0, 1),
            at(1950, 5, 5, 5, 5, 5, 5),
            at(9999, 1, 1, 0, 0, 0, 0),
            at(2024, 6, 1, 0, 0, 0, 0),
            at(2001, 9, 9, 1, 46, 40, 0),
        ];
        for (i, c) in created.iter().enumerate() {
            let mut u = User::new(&format!("u{i}@x.io"));
            u.created_at = *c;
            u.status = if i == 3 {
                Status::Suspended
            } else {
                Status::Active
            };
            User::put(&db, u).await?;
        }
        let mut expected: Vec<DateTime<Utc>> = created
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, c)| *c)
            .collect();
        expected.sort();
        let got: Vec<DateTime<Utc>> = User::query_by_status(&db, &Status::Active)
            .all()
            .await?
            .into_iter()
            .map(|u| u.created_at)
            .collect();
        assert_eq!(got, expected);
        let got_desc: Vec<DateTime<Utc>> = User::query_by_status(&db, &Status::Active)
            .descending()
            .limit(2)
            .all()
            .await?
            .into_iter()
            .map(|u| u.created_at)
            .collect();
        expected.reverse();
        assert_eq!(got_desc, expected);

        // Items created one after another come back in creation order.
        let db2 = fresh_db().await?;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                User::create(&db2, User::new(&format!("c{i}@x.io")))
                    .await?
                    .id,
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let got: Vec<Ulid> = User::query_by_status(&db2, &Status::Active)
            .all()
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(got, ids);
        Ok::<_, Error>(())
    })
    .await
}

/// Each index key half is written when all of its own fields are present (see `dynabao::key`):
/// that is what lets an update recompute one half from the values it is given, without reading
/// the item. An item is in an index exactly when both halves are present, so a post without a tag
/// stores `_gsi3_sk` (built from author_id and seq) but no `_gsi3_pk`, and is not in `by_tag`.
#[tokio::test]
async fn untagged_post_writes_only_the_by_tag_sort_half() -> R {
    let db = fresh_db().await?;
    let t = TenantId::from(Ulid::new());
    let author = Ulid::new();
    TenantContext::run_with_tenant(&t, async {
        for (seq, tag) in [(1i64, None), (2, Some("x".to_owned()))] {
            Post::create(
                &db,
                Post {
                    author_id: author,
                    seq,
                    title: String::new(),
                    published_at: Utc::now(),
                    tag,
                },
            )
            .await?;
        }
        Post::update(&db, &author, &2i64)
            .set(Post::TAG, None::<String>)
            .await?;
        Ok::<_, Error>(())
    })
    .await?;
    for item in raw_scan(&db).await {
        assert_eq!(
            key_attrs(&item),
            ["_gsi1_pk", "_gsi1_sk", "_gsi3_sk", "_pk", "_sk"],
            "no by_tag partition half without a tag: {item:?}"
        );
    }
    let in_index = db
        .client()
        .scan()
        .table_name(db.table())
        .index_name("gsi3")
        .send()
        .await
        .map_err(|e| Error::TestKit(e.to_string()))?;
    assert_eq!(in_index.count(), 0, "untagged posts are not in by_tag");
    Ok(())
}
