//! A cross-tenant admin report, computed for several tenants in parallel.
//!
//! ```sh
//! cargo run --example admin_stats
//! ```
//!
//! An operator's report needs every tenant's numbers, and reading them one tenant after the
//! other is slow. Here each tenant's part is its own future, scoped with
//! `TenantContext::with_tenant`, and all of them run at once with `futures::future::join_all`
//! on one task. The tenant scope is task-local and set only while its own future is polled, so
//! the futures interleave freely and still none of them sees another tenant's data: each
//! query's key carries its scope's tenant, and every item read back is checked against it.
//!
//! It seeds a fresh table with orders for six tenants, prints the report, checks it against
//! what was seeded, and deletes the table. With `DYNAMODB_ENDPOINT` unset it runs on the
//! testkit's embedded engine (dynoxide, in memory, inside the process).

use chrono::{DateTime, Utc};
use dynabao::tenant::TenantId;
use dynabao::{Db, Error, KeyPart, Model, Tenancy, TenantContext};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
pub enum OrderState {
    Placed,
    Shipped,
}

/// A tenant's order. `owner` repeats the tenant id in a plain field, only so that the report
/// can show that every order it counted belongs to the tenant it was counted for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "ord")]
#[bao(index(by_state(gsi = 1, pk = "state", sk = "placed_at")))]
pub struct Order {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub owner: String,
    pub state: OrderState,
    pub total_cents: i64,
    #[bao(created_at)]
    pub placed_at: DateTime<Utc>,
}

/// One tenant's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantStats {
    pub tenant: TenantId,
    pub placed: usize,
    pub shipped: usize,
    pub revenue_cents: i64,
    /// Orders counted whose `owner` is another tenant: always 0.
    pub foreign: usize,
}

/// The tenants of the demo and how many orders each gets (tenant `i` gets `i + 2` orders, every
/// third one shipped, order `k` worth `(k + 1) * 100` cents).
pub fn tenants() -> Vec<TenantId> {
    ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
        .iter()
        .filter_map(|t| TenantId::new(t).ok())
        .collect()
}

/// What [`report`] must find for tenant number `i`: (placed, shipped, revenue).
pub fn expected(i: usize) -> (usize, usize, i64) {
    let n = i + 2;
    let shipped = (0..n).filter(|k| k % 3 == 0).count();
    let revenue = (0..n).map(|k| (k as i64 + 1) * 100).sum();
    (n - shipped, shipped, revenue)
}

/// Seeds every tenant's orders.
pub async fn seed(db: &Db, tenants: &[TenantId]) -> Result<(), Error> {
    for (i, tenant) in tenants.iter().enumerate() {
        TenantContext::run_with_tenant(tenant, async {
            for k in 0..i + 2 {
                let state = if k % 3 == 0 {
                    OrderState::Shipped
                } else {
                    OrderState::Placed
                };
                let order = Order {
                    id: Ulid::nil(),
                    owner: tenant.to_string(),
                    state,
                    total_cents: (k as i64 + 1) * 100,
                    placed_at: DateTime::default(),
                };
                Order::create(db, order).await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    }
    Ok(())
}

/// One tenant's statistics; runs inside that tenant's scope.
async fn stats_in_scope(db: &Db) -> Result<TenantStats, Error> {
    let tenant = TenantContext::resolve().await?;
    let placed = Order::query_by_state(db, &OrderState::Placed).all().await?;
    let shipped = Order::query_by_state(db, &OrderState::Shipped)
        .all()
        .await?;
    let all = placed.iter().chain(&shipped);
    Ok(TenantStats {
        foreign: all.clone().filter(|o| o.owner != tenant.as_str()).count(),
        revenue_cents: all.map(|o| o.total_cents).sum(),
        placed: placed.len(),
        shipped: shipped.len(),
        tenant,
    })
}

/// The report: every tenant's statistics, computed concurrently, one `with_tenant` each.
pub async fn report(db: &Db, tenants: &[TenantId]) -> Result<Vec<TenantStats>, Error> {
    join_all(
        tenants
            .iter()
            .map(|tenant| TenantContext::with_tenant(tenant, stats_in_scope(db))),
    )
    .await
    .into_iter()
    .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = dynabao::testkit::sdk_client().await?;
    let db = Db::new(
        client,
        dynabao::testkit::unique_name("admin-stats-"),
        Tenancy::On,
    );
    db.create_table().await?;
    let tenants = tenants();
    seed(&db, &tenants).await?;

    let started = std::time::Instant::now();
    let stats = report(&db, &tenants).await?;
    println!(
        "{:<10} {:>6} {:>7} {:>9} {:>7}   ({} tenants in parallel, {:?})",
        "tenant",
        "placed",
        "shipped",
        "revenue",
        "foreign",
        stats.len(),
        started.elapsed()
    );
    let mut all_match = true;
    for (i, s) in stats.iter().enumerate() {
        println!(
            "{:<10} {:>6} {:>7} {:>9.2} {:>7}",
            s.tenant.as_str(),
            s.placed,
            s.shipped,
            s.revenue_cents as f64 / 100.0,
            s.foreign
        );
        all_match &= (s.placed, s.shipped, s.revenue_cents) == expected(i) && s.foreign == 0;
    }
    db.delete_table().await?;
    if !all_match {
        return Err(Error::Config(
            "the report does not match the seeded data".into(),
        ));
    }
    println!("every tenant saw exactly its own orders");
    Ok(())
}
