//! Tasks that leave their scope (issue 8, item 2): a `spawn_local` task on a `LocalSet`
//! driven inside another tenant's scope must not write as that tenant.

use dynabao::tenant::{spawn_in_tenant, spawn_local_in_tenant};
use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::{Error, Model, TenantContext};
use serde::{Deserialize, Serialize};
use tokio::task::LocalSet;

use crate::support::{raw_scan, s};

type R = Result<(), Error>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "lmemo")]
pub struct Memo {
    #[bao(pk)]
    pub id: String,
}

fn memo(id: &str) -> Memo {
    Memo { id: id.into() }
}

#[tokio::test]
async fn a_spawn_local_task_never_writes_under_the_tenant_driving_the_set() -> R {
    let db = fresh_db().await?;
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let local = LocalSet::new();
    let (bare, carried) = TenantContext::run_with_tenant(
        &a,
        local.run_until(async {
            // The set is driven in tenant A; the tasks are spawned in tenant B's scope.
            let (bare, carried) = TenantContext::run_with_tenant(&b, async {
                let (db1, db2) = (db.clone(), db.clone());
                Ok::<_, Error>((
                    tokio::task::spawn_local(async move { Memo::create(&db1, memo("bare")).await }),
                    spawn_local_in_tenant(async move { Memo::create(&db2, memo("carried")).await }),
                ))
            })
            .await?;
            Ok::<_, Error>((
                bare.await.map_err(|e| Error::TestKit(e.to_string()))?,
                carried.await.map_err(|e| Error::TestKit(e.to_string()))?,
            ))
        }),
    )
    .await?;
    assert!(matches!(bare, Err(Error::TenantRequired)), "{bare:?}");
    assert_eq!(carried?, memo("carried"));

    let stored: Vec<String> = raw_scan(&db)
        .await
        .iter()
        .filter_map(|i| s(i, "_pk").map(str::to_owned))
        .collect();
    assert_eq!(stored, [format!("[{b}]#lmemo#carried")], "{stored:?}");
    Ok(())
}

#[tokio::test]
async fn a_bare_spawn_fails_closed_and_spawn_in_tenant_writes_in_the_spawners_tenant() -> R {
    let db = fresh_db().await?;
    let t = fresh_tenant();
    let (bare, carried) = TenantContext::run_with_tenant(&t, async {
        let (db1, db2) = (db.clone(), db.clone());
        let bare = tokio::spawn(async move { Memo::create(&db1, memo("bare")).await });
        let carried = spawn_in_tenant(async move { Memo::create(&db2, memo("carried")).await });
        Ok::<_, Error>((
            bare.await.map_err(|e| Error::TestKit(e.to_string()))?,
            carried.await.map_err(|e| Error::TestKit(e.to_string()))?,
        ))
    })
    .await?;
    assert!(matches!(bare, Err(Error::TenantRequired)), "{bare:?}");
    carried?;
    let stored: Vec<String> = raw_scan(&db)
        .await
        .iter()
        .filter_map(|i| s(i, "_pk").map(str::to_owned))
        .collect();
    assert_eq!(stored, [format!("[{t}]#lmemo#carried")]);
    Ok(())
}
