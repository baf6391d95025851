//! Queries, sort-key conditions, filters, pagination, streams and iteration against DynamoDB
//! Local.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};
use dynabao::ops::query::{begins_with, between, eq, ge, gt, le, lt};
use dynabao::ops::Query;
use dynabao::testkit::{fresh_db, fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Db, Error, Model, TenantContext, TenantId};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::models::Post;

type R = Result<(), Error>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "ev")]
#[bao(index(by_kind(gsi = 1, pk = "kind", sk = "at")))]
#[bao(index(by_score(gsi = 2, pk = "kind", sk = "score")))]
#[bao(index(by_rank(gsi = 3, pk = "kind", sk = "rank")))]
#[bao(index(by_ref(gsi = 4, pk = "kind", sk = "ref_id")))]
#[bao(iterable(gsi = 5, buckets = 4))]
pub struct Event {
    #[bao(pk)]
    pub id: String,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub score: f64,
    pub rank: i64,
    pub ref_id: Ulid,
    pub label: String,
    pub tags: Vec<String>,
    pub meta: HashMap<String, String>,
    pub note: Option<String>,
}

fn event(id: &str, kind: &str, rank: i64) -> Event {
    Event {
        id: id.into(),
        kind: kind.into(),
        at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(rank),
        score: rank as f64 / 4.0,
        rank,
        ref_id: Ulid::from_parts(1_000_000 + rank.unsigned_abs(), rank as u128),
        label: format!("label-{rank}"),
        tags: vec![format!("t{rank}")],
        meta: HashMap::from([(
            "colour".to_owned(),
            if rank % 2 == 0 { "red" } else { "blue" }.to_owned(),
        )]),
        note: (rank % 3 == 0).then(|| format!("note {rank}")),
    }
}

/// A model with a text sort key on the table and on an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "qdoc")]
#[bao(index(by_owner(gsi = 1, pk = "owner", sk = "path")))]
pub struct Doc {
    #[bao(pk)]
    pub folder: String,
    #[bao(sk)]
    pub path: String,
    pub owner: String,
}

async fn seed(db: &Db, tenant: &TenantId, kind: &str, ranks: &[i64]) -> Result<Vec<Event>, Error> {
    TenantContext::run_with_tenant(tenant, async {
        let mut out = Vec::new();
        for r in ranks {
            out.push(Event::create(db, event(&format!("{kind}-{r}"), kind, *r)).await?);
        }
        Ok(out)
    })
    .await
}

fn ranks(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.rank).collect()
}

#[tokio::test]
async fn pages_of_two_two_one_then_no_cursor() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[1, 2, 3, 4, 5]).await?;
    TenantContext::run_with_tenant(&t, async {
        let p1 = Event::query_by_rank(&db, "k").limit(2).await?;
        assert_eq!(ranks(&p1.items), [1, 2]);
        let c1 = p1.cursor().expect("a cursor after page 1").to_owned();
        let p2 = Event::query_by_rank(&db, "k").limit(2).cursor(&c1).await?;
        assert_eq!(ranks(&p2.items), [3, 4]);
        let c2 = p2.cursor().expect("a cursor after page 2").to_owned();
        let p3 = Event::query_by_rank(&db, "k").limit(2).cursor(c2).await?;
        assert_eq!(ranks(&p3.items), [5]);
        assert_eq!(p3.cursor(), None);
        assert!(!p3.has_more());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn descending_and_count() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[3, -1, 7, 0]).await?;
    TenantContext::run_with_tenant(&t, async {
        let all = Event::query_by_rank(&db, "k").descending().all().await?;
        assert_eq!(ranks(&all), [7, 3, 0, -1]);
        let paged: Vec<Event> = Event::query_by_rank(&db, "k")
            .descending()
            .limit(1)
            .all()
            .await?;
        assert_eq!(ranks(&paged), [7, 3, 0, -1]);
        assert_eq!(Event::query_by_rank(&db, "k").count().await?, 4);
        assert_eq!(Event::query_by_rank(&db, "k").limit(1).count().await?, 4);
        assert_eq!(
            Event::query_by_rank(&db, "k")
                .filter(Event::RANK.ge(0i64))
                .count()
                .await?,
            3
        );
        assert_eq!(Event::query_by_rank(&db, "nothing").count().await?, 0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn limit_applies_before_the_filter_and_fill_page_fills() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).await?;
    TenantContext::run_with_tenant(&t, async {
        let wanted = || Event::LABEL.is_in(["label-1", "label-5", "label-8"]);
        // DynamoDB reads 4 items, then filters: one match, and more after the cursor.
        let page = Event::query_by_rank(&db, "k")
            .limit(4)
            .filter(wanted())
            .await?;
        assert_eq!(ranks(&page.items), [1]);
        assert!(page.has_more());

        let p1 = Event::query_by_rank(&db, "k")
            .limit(2)
            .filter(wanted())
            .fill_page()
            .await?;
        assert_eq!(ranks(&p1.items), [1, 5]);
        let p2 = Event::query_by_rank(&db, "k")
            .limit(2)
            .filter(wanted())
            .fill_page()
            .cursor(p1.cursor().expect("more after 5"))
            .await?;
        assert_eq!(ranks(&p2.items), [8]);
        assert_eq!(p2.cursor(), None);

        // A page cut in the middle of a read resumes right after its last item.
        let p1 = Event::query_by_rank(&db, "k")
            .limit(3)
            .filter(Event::RANK.ge(0i64))
            .fill_page()
            .await?;
        assert_eq!(ranks(&p1.items), [0, 1, 2]);
        let p2 = Event::query_by_rank(&db, "k")
            .limit(3)
            .filter(Event::RANK.ge(0i64))
            .fill_page()
            .cursor(p1.cursor().expect("more"))
            .await?;
        assert_eq!(ranks(&p2.items), [3, 4, 5]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn cursors_are_bound_to_tenant_index_condition_and_cannot_be_edited() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    seed(&db, &a, "k", &[1, 2, 3]).await?;
    seed(&db, &b, "k", &[1, 2, 3]).await?;
    let cursor = TenantContext::run_with_tenant(&a, async {
        let page = Event::query_by_rank(&db, "k").limit(1).await?;
        Ok::<_, Error>(page.cursor().expect("a cursor").to_owned())
    })
    .await?;

    let before = counter.count();
    let under_b = TenantContext::run_with_tenant(&b, async {
        Event::query_by_rank(&db, "k")
            .limit(1)
            .cursor(&cursor)
            .send()
            .await
    })
    .await;
    assert!(
        matches!(
            under_b,
            Err(Error::InvalidCursor {
                reason: "issued for another tenant"
            })
        ),
        "{under_b:?}"
    );

    TenantContext::run_with_tenant(&a, async {
        let other_index = Event::query_by_score(&db, "k").cursor(&cursor).send().await;
        assert!(
            matches!(other_index, Err(Error::InvalidCursor { .. })),
            "{other_index:?}"
        );
        let other_partition = Event::query_by_rank(&db, "other")
            .cursor(&cursor)
            .send()
            .await;
        assert!(
            matches!(other_partition, Err(Error::InvalidCursor { .. })),
            "{other_partition:?}"
        );
        let other_condition = Event::query_by_rank(&db, "k")
            .sk(gt(0i64))
            .cursor(&cursor)
            .send()
            .await;
        assert!(
            matches!(other_condition, Err(Error::InvalidCursor { .. })),
            "{other_condition:?}"
        );

        // Flip one character anywhere: always rejected.
        let mut chars: Vec<char> = cursor.chars().collect();
        for i in (0..chars.len()).step_by(7) {
            let original = chars[i];
            chars[i] = if original == 'A' { 'B' } else { 'A' };
            let edited: String = chars.iter().collect();
            let r = Event::query_by_rank(&db, "k").cursor(edited).send().await;
            assert!(
                matches!(r, Err(Error::InvalidCursor { .. })),
                "position {i}: {r:?}"
            );
            chars[i] = original;
        }
        for junk in ["", "not a cursor", "AAAA"] {
            let r = Event::query_by_rank(&db, "k").cursor(junk).send().await;
            assert!(
                matches!(r, Err(Error::InvalidCursor { .. })),
                "{junk:?}: {r:?}"
            );
        }
        Ok::<_, Error>(())
    })
    .await?;
    assert_eq!(counter.count(), before, "rejected cursors send nothing");

    // The cursor still works where it was issued.
    TenantContext::run_with_tenant(&a, async {
        let rest = Event::query_by_rank(&db, "k").cursor(&cursor).await?;
        assert_eq!(ranks(&rest.items), [2, 3]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cursor_signed_with_another_key_is_rejected() -> R {
    let db = fresh_db().await?;
    let other = db
        .clone()
        .with_cursor_key(dynabao::CursorKey::new([7u8; 32]).unwrap());
    let t = fresh_tenant();
    seed(&db, &t, "k", &[1, 2]).await?;
    TenantContext::run_with_tenant(&t, async {
        let page = Event::query_by_rank(&db, "k").limit(1).await?;
        let r = Event::query_by_rank(&other, "k")
            .cursor(page.cursor().unwrap())
            .send()
            .await;
        assert!(
            matches!(
                r,
                Err(Error::InvalidCursor {
                    reason: "signature does not match"
                })
            ),
            "{r:?}"
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn sort_key_operators_on_integers_floats_timestamps_and_ulids() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let events = seed(&db, &t, "k", &[-50, -3, 0, 2, 40]).await?;
    let by = |r: i64| events.iter().find(|e| e.rank == r).unwrap().clone();
    TenantContext::run_with_tenant(&t, async {
        // i64, negatives included.
        let q = || Event::query_by_rank(&db, "k");
        assert_eq!(ranks(&q().sk(eq(-3i64)).all().await?), [-3]);
        assert_eq!(ranks(&q().sk(lt(0i64)).all().await?), [-50, -3]);
        assert_eq!(ranks(&q().sk(le(0i64)).all().await?), [-50, -3, 0]);
        assert_eq!(ranks(&q().sk(gt(0i64)).all().await?), [2, 40]);
        assert_eq!(ranks(&q().sk(ge(2i64)).all().await?), [2, 40]);
        assert_eq!(
            ranks(&q().sk(between(-3i64, 2i64)).all().await?),
            [-3, 0, 2]
        );
        assert_eq!(
            ranks(&q().sk(between(-3i64, 2i64)).descending().all().await?),
            [2, 0, -3]
        );
        // i32 values convert into the i64 sort key.
        assert_eq!(ranks(&q().sk(eq(-3i32)).all().await?), [-3]);

        // f64.
        let q = || Event::query_by_score(&db, "k");
        assert_eq!(ranks(&q().sk(lt(0.0)).all().await?), [-50, -3]);
        assert_eq!(ranks(&q().sk(between(-0.75, 0.5)).all().await?), [-3, 0, 2]);
        assert_eq!(ranks(&q().sk(ge(0.5)).all().await?), [2, 40]);

        // Timestamps.
        let q = || Event::query_by_kind(&db, "k");
        assert_eq!(ranks(&q().sk(lt(by(0).at)).all().await?), [-50, -3]);
        assert_eq!(
            ranks(&q().sk(between(by(-3).at, by(2).at)).all().await?),
            [-3, 0, 2]
        );
        assert_eq!(ranks(&q().sk(eq(by(40).at)).all().await?), [40]);

        // ULIDs.
        let q = || Event::query_by_ref(&db, "k");
        let mut by_ref = events.clone();
        by_ref.sort_by_key(|e| e.ref_id);
        let expected: Vec<i64> = by_ref.iter().map(|e| e.rank).collect();
        assert_eq!(ranks(&q().all().await?), expected);
        let first = by_ref[0].ref_id;
        assert_eq!(ranks(&q().sk(gt(first)).all().await?), expected[1..]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn begins_with_and_table_queries_on_text_sort_keys() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(&t, async {
        for path in ["a/b", "a/c#1", "a/c#2", "ab", "b", "a"] {
            Doc::create(
                &db,
                Doc {
                    folder: "f".into(),
                    path: path.into(),
                    owner: "o".into(),
                },
            )
            .await?;
        }
        let paths = |docs: Vec<Doc>| docs.into_iter().map(|d| d.path).collect::<Vec<_>>();
        assert_eq!(
            paths(Doc::query(&db, "f").sk(begins_with("a/")).all().await?),
            ["a/b", "a/c#1", "a/c#2"]
        );
        // `#` in a value is escaped, so a prefix with `#` matches exactly.
        assert_eq!(
            paths(Doc::query(&db, "f").sk(begins_with("a/c#")).all().await?),
            ["a/c#1", "a/c#2"]
        );
        assert_eq!(
            paths(Doc::query(&db, "f").sk(begins_with("a")).all().await?),
            ["a", "a/b", "a/c#1", "a/c#2", "ab"]
        );
        assert_eq!(
            paths(Doc::query(&db, "f").sk(between("a/", "ab")).all().await?),
            ["a/b", "a/c#1", "a/c#2", "ab"]
        );
        assert_eq!(
            paths(Doc::query_by_owner(&db, "o").sk(gt("ab")).all().await?),
            ["b"]
        );
        // Strong consistency: on the table yes, on an index a typed error before sending.
        assert_eq!(Doc::query(&db, "f").consistent().all().await?.len(), 6);
        let r = Doc::query_by_owner(&db, "o").consistent().send().await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        // A between with bounds the wrong way round is rejected before sending.
        let r = Doc::query(&db, "f").sk(between("b", "a")).send().await;
        assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn projection_into_a_smaller_type() -> R {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Label {
        label: String,
        rank: i64,
    }
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[1, 2]).await?;
    TenantContext::run_with_tenant(&t, async {
        let q = Event::query_by_rank(&db, "k")
            .project::<Label>([Event::LABEL.schema(), Event::RANK.schema()]);
        let request = q.to_request().await?;
        let projection = request
            .projection_expression()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(projection.split(", ").count(), 6, "{projection}");
        let labels = q.all().await?;
        assert_eq!(
            labels,
            [
                Label {
                    label: "label-1".into(),
                    rank: 1
                },
                Label {
                    label: "label-2".into(),
                    rank: 2
                }
            ]
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn items_of_another_model_in_the_partition_are_skipped_and_other_tenants_are_refused() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    seed(&db, &a, "k", &[1]).await?;
    let raw = |pk: String, sk: String, gsi_sk: String| {
        let db = db.clone();
        let a = a.clone();
        async move {
            db.client()
                .put_item()
                .table_name(db.table())
                .item("_pk", AttributeValue::S(pk))
                .item("_sk", AttributeValue::S(sk))
                .item("_gsi3_pk", AttributeValue::S(format!("[{a}]#ev#k")))
                .item("_gsi3_sk", AttributeValue::S(gsi_sk))
                .send()
                .await
                .map_err(|e| Error::TestKit(e.to_string()))
        }
    };
    // Same tenant, another model, sharing the index partition: skipped.
    raw(
        format!("[{a}]#other#x"),
        format!("[{a}]#other#_"),
        format!("[{a}]#ev#0"),
    )
    .await?;
    TenantContext::run_with_tenant(&a, async {
        assert_eq!(ranks(&Event::query_by_rank(&db, "k").all().await?), [1]);
        Ok::<_, Error>(())
    })
    .await?;
    // Another tenant's item in this tenant's partition: refused, never decoded.
    raw(
        format!("[{b}]#ev#y"),
        format!("[{b}]#ev#_"),
        format!("[{a}]#ev#2"),
    )
    .await?;
    TenantContext::run_with_tenant(&a, async {
        let r = Event::query_by_rank(&db, "k").all().await;
        assert!(matches!(r, Err(Error::CrossTenant { .. })), "{r:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn reverse_lookup_from_the_owner_with_paging() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let (author, other) = (Ulid::new(), Ulid::new());
    TenantContext::run_with_tenant(&t, async {
        for (who, seq) in [(author, 1), (author, 2), (author, 3), (other, 1)] {
            Post::create(
                &db,
                Post {
                    author_id: who,
                    seq,
                    title: format!("{who}-{seq}"),
                    published_at: Utc::now() + Duration::seconds(seq),
                    tag: None,
                },
            )
            .await?;
        }
        let p1 = Post::query_by_author(&db, &author).limit(2).await?;
        assert_eq!(p1.items.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2]);
        let p2 = Post::query_by_author(&db, &author)
            .limit(2)
            .cursor(p1.cursor().unwrap())
            .await?;
        assert_eq!(p2.items.iter().map(|p| p.seq).collect::<Vec<_>>(), [3]);
        assert!(p2.items.iter().all(|p| p.author_id == author));
        // The table query by the partition key, with a sort-key range.
        let posts = Post::query(&db, &author).sk(ge(2i64)).all().await?;
        assert_eq!(posts.iter().map(|p| p.seq).collect::<Vec<_>>(), [2, 3]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn indexes_named_at_run_time() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[-1, 1, 2]).await?;
    TenantContext::run_with_tenant(&t, async {
        let got = Query::<Event>::named(&db, "by_rank", &[&"k"])
            .sk_field(Event::RANK, gt(0))
            .all()
            .await?;
        assert_eq!(ranks(&got), [1, 2]);
        let r = Query::<Event>::named(&db, "by_nothing", &[&"k"])
            .send()
            .await;
        assert!(
            matches!(r, Err(Error::UnknownIndex { ref name, .. }) if name == "by_nothing"),
            "{r:?}"
        );
        let r = Query::<Event>::named(&db, "by_rank", &[&"k"])
            .sk_field(Event::SCORE, gt(0.0))
            .send()
            .await;
        assert!(
            matches!(r, Err(Error::InvalidRequest { ref reason, .. }) if reason.contains("score")),
            "{r:?}"
        );
        let r = Query::<Event>::named(&db, "by_rank", &[&"k", &"extra"])
            .send()
            .await;
        assert!(matches!(r, Err(Error::InvalidKeyValue { .. })), "{r:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn streams_walk_every_page() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let expected: Vec<i64> = (0..120).collect();
    seed(&db, &t, "k", &expected).await?;
    TenantContext::run_with_tenant(&t, async {
        let got: Vec<Event> = Event::query_by_rank(&db, "k")
            .limit(25)
            .stream()
            .try_collect()
            .await?;
        assert_eq!(ranks(&got), expected);
        let desc: Vec<Event> = Event::query_by_rank(&db, "k")
            .limit(50)
            .descending()
            .stream()
            .try_collect()
            .await?;
        assert_eq!(desc.len(), 120);
        assert_eq!(desc[0].rank, 119);
        Ok::<_, Error>(())
    })
    .await?;
    // No tenant: the stream's first item is the error.
    let r: Result<Vec<Event>, Error> = Event::query_by_rank(&db, "k").stream().try_collect().await;
    assert!(matches!(r, Err(Error::TenantRequired)), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn iteration_reads_every_item_of_one_tenant_only() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let a_ranks: Vec<i64> = (0..37).collect();
    seed(&db, &a, "k1", &a_ranks[..20]).await?;
    seed(&db, &a, "k2", &a_ranks[20..]).await?;
    seed(&db, &b, "k1", &[1000, 1001]).await?;
    TenantContext::run_with_tenant(&a, async {
        let mut got = ranks(&Event::iterate(&db).page_size(5).all().await?);
        got.sort_unstable();
        assert_eq!(got, a_ranks);
        assert_eq!(Event::iterate(&db).count().await?, 37);
        assert_eq!(
            Event::iterate(&db)
                .filter(Event::KIND.eq("k2"))
                .count()
                .await?,
            17
        );
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&b, async {
        assert_eq!(ranks(&Event::iterate(&db).all().await?).len(), 2);
        Ok::<_, Error>(())
    })
    .await?;
    let r = Event::iterate(&db).count().await;
    assert!(matches!(r, Err(Error::TenantRequired)), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn every_filter_operator_against_dynamodb() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t, "k", &[0, 1, 2, 3, 4, 5, 6]).await?;
    TenantContext::run_with_tenant(&t, async {
        let run = |c| {
            let db = db.clone();
            async move {
                Ok::<_, Error>(ranks(
                    &Event::query_by_rank(&db, "k").filter(c).all().await?,
                ))
            }
        };
        assert_eq!(run(Event::LABEL.eq("label-3")).await?, [3]);
        assert_eq!(run(Event::LABEL.ne("label-3")).await?, [0, 1, 2, 4, 5, 6]);
        assert_eq!(run(Event::SCORE.lt(0.5)).await?, [0, 1]);
        assert_eq!(run(Event::SCORE.le(0.5)).await?, [0, 1, 2]);
        assert_eq!(run(Event::SCORE.gt(1.0)).await?, [5, 6]);
        assert_eq!(run(Event::SCORE.ge(1.0)).await?, [4, 5, 6]);
        assert_eq!(run(Event::RANK.between(2i64, 4i64)).await?, [2, 3, 4]);
        assert_eq!(run(Event::LABEL.begins_with("label-5")).await?, [5]);
        assert_eq!(run(Event::TAGS.contains("t6")).await?, [6]);
        assert_eq!(run(Event::RANK.is_in([1i64, 4, 9])).await?, [1, 4]);
        // serde_dynamo stores `None` as NULL, so "exists" is about the attribute, not the value.
        assert_eq!(run(Event::NOTE.ne(None::<String>)).await?, [0, 3, 6]);
        assert_eq!(run(Event::NOTE.exists()).await?, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(run(Event::NOTE.not_exists()).await?, Vec::<i64>::new());
        assert_eq!(run(Event::LABEL.size().eq(7)).await?, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(run(Event::TAGS.size().gt(1)).await?, Vec::<i64>::new());
        assert_eq!(
            run(Event::RANK.lt(2i64).or(Event::RANK.gt(5i64))).await?,
            [0, 1, 6]
        );
        assert_eq!(
            run(Event::RANK.ge(2i64).and(Event::RANK.le(3i64))).await?,
            [2, 3]
        );
        assert_eq!(run(!Event::RANK.ge(2i64)).await?, [0, 1]);
        assert_eq!(
            run(Event::META.path().key("colour").eq("red")).await?,
            [0, 2, 4, 6]
        );
        assert_eq!(run(Event::TAGS.path().index(0).eq("t1")).await?, [1]);
        assert_eq!(
            run(Event::META.path().key("missing").exists()).await?,
            Vec::<i64>::new()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn equal_key_values_in_two_tenants_never_mix_on_any_index() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let same = [-2, 0, 5];
    seed(&db, &a, "k", &same).await?;
    seed(&db, &b, "k", &same).await?;
    // Make b's copies distinguishable.
    TenantContext::run_with_tenant(&b, async {
        for r in same {
            Event::update(&db, &format!("k-{r}"))
                .set(Event::LABEL, "b")
                .await?;
        }
        Ok::<_, Error>(())
    })
    .await?;
    TenantContext::run_with_tenant(&a, async {
        let e0 = event("k-0", "k", 0);
        let results = [
            Event::query_by_kind(&db, "k").sk(ge(e0.at)).all().await?,
            Event::query_by_score(&db, "k")
                .sk(between(-1.0, 2.0))
                .all()
                .await?,
            Event::query_by_rank(&db, "k").sk(le(5i64)).all().await?,
            Event::query_by_ref(&db, "k").all().await?,
            Event::iterate(&db).all().await?,
        ];
        for items in results {
            assert!(!items.is_empty());
            assert!(items.iter().all(|e| e.label != "b"), "{items:?}");
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn conditions_on_a_prefix_of_a_composite_sort_key_are_exact_and_page() -> R {
    use crate::models::Task;
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        for (lane, rank) in [
            ("todo", 1),
            ("doing", 3),
            ("done", 2),
            ("doing", 1),
            ("todo", 9),
            ("done", 7),
            ("dont", 1),
        ] {
            Task::create(&db, Task::new("b", lane, rank, "t")).await?;
        }
        let lanes = |tasks: Vec<Task>| -> Vec<(String, u32)> {
            tasks.into_iter().map(|t| (t.lane, t.rank)).collect()
        };
        let q = || Task::query_by_board(&db, "b");
        let s = |v: &str| v.to_owned();
        assert_eq!(
            lanes(q().sk_prefix(eq(s("doing"))).all().await?),
            [(s("doing"), 1), (s("doing"), 3)]
        );
        assert_eq!(
            lanes(q().sk_prefix(lt(s("done"))).all().await?),
            [(s("doing"), 1), (s("doing"), 3)]
        );
        assert_eq!(q().sk_prefix(le(s("done"))).count().await?, 4);
        assert_eq!(
            lanes(q().sk_prefix(gt(s("done"))).all().await?),
            [(s("dont"), 1), (s("todo"), 1), (s("todo"), 9)]
        );
        assert_eq!(q().sk_prefix(ge(s("done"))).count().await?, 5);
        assert_eq!(
            q().sk_prefix(between(s("doing"), s("done")))
                .count()
                .await?,
            4
        );
        assert_eq!(q().sk_prefix(begins_with(s("do"))).count().await?, 5);
        assert_eq!(q().sk_prefix(eq(s("nope"))).count().await?, 0);

        // Paged: the cursor is bound to the prefix condition and resumes it.
        let first = q().sk_prefix(ge(s("done"))).limit(2).send().await?;
        assert_eq!(first.items.len(), 2);
        let cursor = first.cursor().expect("more").to_owned();
        let rest = q()
            .sk_prefix(ge(s("done")))
            .cursor(cursor.as_str())
            .all()
            .await?;
        assert_eq!(rest.len(), 3);
        let other = q()
            .sk_prefix(gt(s("done")))
            .cursor(cursor.as_str())
            .send()
            .await;
        assert!(
            matches!(other, Err(Error::InvalidCursor { .. })),
            "{other:?}"
        );
        let reversed = q()
            .sk_prefix(between(s("doing"), s("dont")))
            .descending()
            .all()
            .await?;
        assert_eq!(reversed.first().map(|t| t.lane.as_str()), Some("dont"));
        Ok::<_, Error>(())
    })
    .await
}

/// A model with a sort key and a unique constraint, for delete_all's transactional path.
#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "seat")]
#[bao(unique(name = "by_holder", field = "holder"))]
pub struct Seat {
    #[bao(pk)]
    pub room: String,
    #[bao(sk)]
    pub n: u32,
    pub holder: String,
}

#[tokio::test]
async fn delete_all_deletes_every_page_in_batches_and_resumes_by_cursor() -> R {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    let t = fresh_tenant();
    TenantContext::run_with_tenant(t.clone(), async {
        let (author, other) = (Ulid::new(), Ulid::new());
        for (who, n) in [(author, 60), (other, 3)] {
            let posts = (0..n).map(|seq| Post {
                author_id: who,
                seq,
                title: format!("p{seq}"),
                published_at: Utc::now(),
                tag: None,
            });
            db.batch_write().puts(posts).await?;
        }
        let before = counter.operations().len();
        let deleted = Post::query(&db, &author).limit(25).delete_all().await?;
        assert_eq!(deleted, 60);
        let ops = counter.operations()[before..].to_vec();
        let count = |op: &str| ops.iter().filter(|o| *o == op).count();
        assert_eq!((count("Query"), count("BatchWriteItem")), (3, 3), "{ops:?}");
        assert_eq!(Post::query(&db, &author).count().await?, 0);
        assert_eq!(
            Post::query(&db, &other).count().await?,
            3,
            "another partition untouched"
        );

        // One page, then resumed from its cursor; a filter limits what is deleted.
        let first = Post::query(&db, &other).limit(1).delete_page().await?;
        assert_eq!(first.deleted, 1);
        let cursor = first.cursor.expect("more pages");
        let rest = Post::query(&db, &other)
            .filter(Post::TITLE.ne("p2"))
            .cursor(cursor)
            .delete_all()
            .await?;
        assert_eq!(rest, 1);
        let left = Post::query(&db, &other).all().await?;
        assert_eq!(
            left.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(),
            ["p2"]
        );
        let bad = Post::query(&db, &other).cursor("forged").delete_all().await;
        assert!(matches!(bad, Err(Error::InvalidCursor { .. })), "{bad:?}");

        // With unique constraints: each delete releases its constraint items.
        for n in 0..5 {
            Seat::create(
                &db,
                Seat {
                    room: "a".into(),
                    n,
                    holder: format!("h{n}"),
                },
            )
            .await?;
        }
        assert_eq!(Seat::query(&db, "a").limit(2).delete_all().await?, 5);
        let prefix = format!("[{t}]#seat#");
        let left: Vec<_> = crate::support::raw_scan(&db)
            .await
            .into_iter()
            .filter(|i| crate::support::s(i, "_pk").is_some_and(|pk| pk.starts_with(&prefix)))
            .collect();
        assert!(
            left.is_empty(),
            "no seat and no constraint item left: {left:?}"
        );
        Seat::create(
            &db,
            Seat {
                room: "b".into(),
                n: 0,
                holder: "h0".into(),
            },
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await
}
