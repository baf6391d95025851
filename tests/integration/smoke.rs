use dynabao::testkit::{fresh_db, fresh_tenant};
use dynabao::TenantContext;

use crate::models::*;

#[tokio::test]
async fn create_then_find() -> dynabao::Result<()> {
    let db = fresh_db().await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        let u = User::create(&db, User::new("a@x.io")).await?;
        let found = User::find(&db, &u.id).await?;
        assert_eq!(found, Some(u));
        Ok::<_, dynabao::Error>(())
    })
    .await
}
