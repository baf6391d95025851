//! Paging through partitions that hold items of another model of the same tenant (issue 8,
//! item 4): such items are skipped, and a page that ends on one must still give a cursor the
//! crate accepts, forwards and backwards, with filters and with `fill_page`.

use aws_sdk_dynamodb::types::AttributeValue;
use dynabao::ops::query::ge;
use dynabao::ops::Query;
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Db, Error, Model, TenantContext, TenantId};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

type R = Result<(), Error>;

/// A model whose index partition (and table partition) other models' items can share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "pg")]
#[bao(index(by_owner(gsi = 1, pk = "owner", sk = "path")))]
pub struct Sheet {
    #[bao(pk)]
    pub folder: String,
    #[bao(sk)]
    pub path: String,
    pub owner: String,
}

const PATHS: [&str; 6] = ["p1", "p2", "p3", "p4", "p5", "p6"];

/// Stores `Sheet`s `p1..p6` in folder `f` for owner `o`, and after each of them, in the same
/// index partition, an item of another model of the same tenant (`p1z`, `p2z`, ...), which
/// every index query skips. Also puts three items of another model into the table partition
/// of folder `f`, sorting after every sheet (prefix `zz`).
async fn seed(db: &Db, t: &TenantId) -> R {
    TenantContext::run_with_tenant(t, async {
        for p in PATHS {
            Sheet::create(
                db,
                Sheet {
                    folder: "f".into(),
                    path: p.into(),
                    owner: "o".into(),
                },
            )
            .await?;
        }
        Ok::<_, Error>(())
    })
    .await?;
    let put = |pk: String, sk: String, gsi: Option<(String, String)>| {
        let mut req = db
            .client()
            .put_item()
            .table_name(db.table())
            .item("_pk", AttributeValue::S(pk))
            .item("_sk", AttributeValue::S(sk));
        if let Some((gpk, gsk)) = gsi {
            req = req
                .item("_gsi1_pk", AttributeValue::S(gpk))
                .item("_gsi1_sk", AttributeValue::S(gsk));
        }
        async move {
            req.send()
                .await
                .map(|_| ())
                .map_err(|e| Error::TestKit(e.to_string()))
        }
    };
    for (n, p) in PATHS.iter().enumerate() {
        put(
            format!("[{t}]#other#{n}"),
            format!("[{t}]#other#_"),
            Some((format!("[{t}]#pg#o"), format!("[{t}]#pg#{p}z"))),
        )
        .await?;
    }
    for n in 0..3 {
        put(format!("[{t}]#pg#f"), format!("[{t}]#zz#{n}"), None).await?;
    }
    Ok(())
}

/// Follows cursors until the last page; returns the paths seen and the number of pages.
async fn walk<'a, S>(make: impl Fn() -> Query<'a, Sheet, S>) -> Result<(Vec<String>, usize), Error>
where
    S: 'a,
{
    let mut cursor: Option<String> = None;
    let mut paths = Vec::new();
    let mut pages = 0;
    loop {
        let page = make().cursor_opt(cursor.take()).send().await?;
        pages += 1;
        paths.extend(page.items.iter().map(|s| s.path.clone()));
        match page.cursor() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok((paths, pages)),
        }
        assert!(pages <= 40, "paging does not end");
    }
}

fn forwards() -> Vec<String> {
    PATHS.iter().map(|p| p.to_string()).collect()
}

fn backwards() -> Vec<String> {
    PATHS.iter().rev().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn index_pages_that_end_on_a_skipped_item_resume_forwards_and_backwards() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t).await?;
    TenantContext::run_with_tenant(&t, async {
        // Every page size lands some page boundary on a skipped item.
        for limit in 1..=5 {
            let (paths, pages) = walk(|| Sheet::query_by_owner(&db, "o").limit(limit)).await?;
            assert_eq!(paths, forwards(), "limit {limit}");
            assert!(pages >= 12 / limit as usize, "limit {limit}: {pages} pages");
            let (paths, _) =
                walk(|| Sheet::query_by_owner(&db, "o").limit(limit).descending()).await?;
            assert_eq!(paths, backwards(), "limit {limit}, descending");
        }
        // Without a limit, and through `all` and `stream`.
        assert_eq!(
            walk(|| Sheet::query_by_owner(&db, "o")).await?.0,
            forwards()
        );
        let all = Sheet::query_by_owner(&db, "o").limit(1).all().await?;
        assert_eq!(all.len(), PATHS.len());
        let streamed: Vec<Sheet> = Sheet::query_by_owner(&db, "o")
            .limit(2)
            .descending()
            .stream()
            .try_collect()
            .await?;
        assert_eq!(
            streamed.into_iter().map(|s| s.path).collect::<Vec<_>>(),
            backwards()
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn skipped_items_with_filters_and_fill_page() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t).await?;
    TenantContext::run_with_tenant(&t, async {
        // The foreign items have no `owner`, so the filter drops them on DynamoDB's side; the
        // page's last evaluated key can still be one of them.
        let filter = || Sheet::OWNER.eq("o").and(Sheet::PATH.ne("p3"));
        let expected: Vec<String> = forwards().into_iter().filter(|p| p != "p3").collect();
        let mut reversed = expected.clone();
        reversed.reverse();
        for limit in 1..=4 {
            let (paths, _) = walk(|| {
                Sheet::query_by_owner(&db, "o")
                    .limit(limit)
                    .filter(filter())
            })
            .await?;
            assert_eq!(paths, expected, "limit {limit}");
            let (paths, _) = walk(|| {
                Sheet::query_by_owner(&db, "o")
                    .limit(limit)
                    .filter(filter())
                    .descending()
            })
            .await?;
            assert_eq!(paths, reversed, "limit {limit}, descending");
            let (paths, pages) = walk(|| {
                Sheet::query_by_owner(&db, "o")
                    .limit(limit)
                    .filter(filter())
                    .fill_page()
            })
            .await?;
            assert_eq!(paths, expected, "limit {limit}, fill_page");
            assert!(
                pages <= expected.len() / limit as usize + 1,
                "limit {limit}: {pages} pages"
            );
            let (paths, _) = walk(|| {
                Sheet::query_by_owner(&db, "o")
                    .limit(limit)
                    .filter(filter())
                    .fill_page()
                    .descending()
            })
            .await?;
            assert_eq!(paths, reversed, "limit {limit}, fill_page, descending");
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn table_pages_that_end_on_a_skipped_item_resume() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    seed(&db, &t).await?;
    TenantContext::run_with_tenant(&t, async {
        // `_sk >= [t]#pg#p` also takes in the other model's `[t]#zz#..` sort keys of the
        // partition: they are read, skipped, and may end a page.
        for limit in 1..=4 {
            let (paths, _) =
                walk(|| Sheet::query(&db, "f").sk(ge("p".to_owned())).limit(limit)).await?;
            assert_eq!(paths, forwards(), "limit {limit}");
            let (paths, _) = walk(|| {
                Sheet::query(&db, "f")
                    .sk(ge("p".to_owned()))
                    .limit(limit)
                    .descending()
            })
            .await?;
            assert_eq!(paths, backwards(), "limit {limit}, descending");
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cursor_from_a_skipped_item_stays_bound_to_its_tenant() -> R {
    let db = fresh_db().await?;
    let (t, other) = (fresh_tenant(), fresh_tenant());
    seed(&db, &t).await?;
    // p1, then p1z (skipped): the second page of one item ends on the skipped item.
    let cursor = TenantContext::run_with_tenant(&t, async {
        let first = Sheet::query_by_owner(&db, "o").limit(2).send().await?;
        assert_eq!(first.items.len(), 1);
        Ok::<_, Error>(first.cursor().expect("more").to_owned())
    })
    .await?;
    TenantContext::run_with_tenant(&other, async {
        let r = Sheet::query_by_owner(&db, "o").cursor(&cursor).send().await;
        assert!(
            matches!(
                r,
                Err(Error::InvalidCursor {
                    reason: "issued for another tenant"
                })
            ),
            "{r:?}"
        );
        Ok(())
    })
    .await
}
