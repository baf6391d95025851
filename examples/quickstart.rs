//! The quickstart: two tenants, one table, and each tenant sees only its own items.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With `DYNAMODB_ENDPOINT` unset this runs on the testkit's embedded engine (dynoxide, a DynamoDB
//! engine on SQLite, in memory, inside this process: nothing to install, nothing left running);
//! with it set, it uses that endpoint.

use std::future::IntoFuture;

use chrono::{DateTime, Utc};
use dynabao::{Db, KeyPart, Model, Tenancy, TenantContext};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
    Invited,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(by_status(gsi = 1, pk = "status", sk = "created_at")))]
struct User {
    #[bao(pk, auto)]
    id: Ulid,
    email: String,
    status: Status,
    #[bao(created_at)]
    created_at: DateTime<Utc>,
    #[bao(updated_at)]
    updated_at: DateTime<Utc>,
    #[bao(version)]
    version: u64,
}

impl User {
    fn new(email: &str, status: Status) -> Self {
        User {
            id: Ulid::nil(), // filled by `create`
            email: email.to_owned(),
            status,
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
            version: 0,
        }
    }
}

#[tokio::main]
async fn main() -> dynabao::Result<()> {
    let endpoint = dynabao::testkit::endpoint().await?;
    let client = dynabao::testkit::sdk_client().await?;
    let db = Db::new(client, "quickstart", Tenancy::On);
    db.create_table().await?;
    println!("DynamoDB at {endpoint}, table {}", db.table());

    for (tenant, emails) in [
        ("acme", ["ada@acme.test", "grace@acme.test"]),
        ("globex", ["hank@globex.test", "marge@globex.test"]),
    ] {
        TenantContext::run_with_tenant(tenant, async {
            for email in emails {
                let user = User::create(&db, User::new(email, Status::Active)).await?;
                println!("[{tenant}] created {} {}", user.id, user.email);
            }
            Ok::<_, dynabao::Error>(())
        })
        .await?;
    }

    // The same question asked by each tenant gets only that tenant's answer.
    for tenant in ["acme", "globex"] {
        TenantContext::run_with_tenant(tenant, async {
            let active = User::query_by_status(&db, &Status::Active).all().await?;
            let emails: Vec<&str> = active.iter().map(|u| u.email.as_str()).collect();
            println!("[{tenant}] sees {} active users: {emails:?}", active.len());
            assert!(active
                .iter()
                .all(|u| u.email.ends_with(&format!("@{tenant}.test"))));

            // Update without reading first; the version is checked and bumped in the write.
            let first = &active[0];
            let invited = User::update(&db, &first.id)
                .set(User::STATUS, Status::Invited)
                .if_version(first.version)
                .await?;
            println!(
                "[{tenant}] {} is now {:?} (version {})",
                invited.email, invited.status, invited.version
            );
            Ok::<_, dynabao::Error>(())
        })
        .await?;
    }

    // Another tenant's id finds nothing: the key carries the tenant.
    let acme_user = TenantContext::run_with_tenant("acme", async {
        let users = User::query_by_status(&db, &Status::Active).all().await?;
        Ok::<_, dynabao::Error>(users.into_iter().next())
    })
    .await?;
    if let Some(user) = acme_user {
        let seen_by_globex =
            TenantContext::run_with_tenant("globex", User::find(&db, &user.id).into_future())
                .await?;
        println!(
            "[globex] looking up acme's user {}: {:?}",
            user.id,
            seen_by_globex.map(|u| u.email)
        );
    }

    // No tenant in scope: the operation fails closed and sends nothing.
    match User::query_by_status(&db, &Status::Active).all().await {
        Err(dynabao::Error::TenantRequired) => println!("[no tenant] refused: TenantRequired"),
        other => println!("[no tenant] unexpected: {other:?}"),
    }

    // What is stored: every key starts with [tenant]#u#.
    let scan = db
        .client()
        .scan()
        .table_name(db.table())
        .send()
        .await
        .map_err(|e| dynabao::Error::TestKit(format!("scan failed: {e}")))?;
    println!("stored keys:");
    for item in scan.items() {
        if let Some(pk) = item.get("_pk").and_then(|v| v.as_s().ok()) {
            println!("  {pk}");
        }
    }
    db.delete_table().await?;
    Ok(())
}
