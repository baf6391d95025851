//! The `background_job` and `admin_stats` examples, run on a fresh table: what they do is
//! checked here, item by item (CI also runs them as programs).

use chrono::Utc;
use dynabao::testkit::fresh_db;
use dynabao::{Error, TenantContext};

use crate::support::{raw_scan, s};

#[allow(dead_code)]
#[path = "../../examples/background_job.rs"]
mod background_job;

#[allow(dead_code)]
#[path = "../../examples/admin_stats.rs"]
mod admin_stats;

#[tokio::test]
async fn background_job_works_in_each_active_tenant_only() {
    use background_job::{run, seed, Invoice, InvoiceStatus, TenantRun};

    let db = fresh_db().await.unwrap();
    let now = Utc::now();
    let tenants = seed(&db, now).await.unwrap();
    let names: Vec<&str> = tenants.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["acme", "globex", "initech"]);

    let runs = run(&db, now).await.unwrap();
    assert_eq!(
        runs,
        vec![
            TenantRun {
                tenant: tenants[0].clone(),
                open: 3,
                marked_overdue: 2
            },
            TenantRun {
                tenant: tenants[1].clone(),
                open: 3,
                marked_overdue: 2
            },
        ]
    );
    // A second run finds nothing more to do.
    let again = run(&db, now).await.unwrap();
    assert!(
        again.iter().all(|r| r.open == 1 && r.marked_overdue == 0),
        "{again:?}"
    );

    // Each tenant's invoices, read back raw: the job changed only the active tenants' past-due
    // open invoices, and every invoice is still under its own tenant's keys.
    for tenant in &tenants {
        let overdue = TenantContext::run_with_tenant(tenant, async {
            Invoice::query_by_status(&db, &InvoiceStatus::Overdue)
                .all()
                .await
        })
        .await
        .unwrap();
        let expected = if tenant == "initech" { 0 } else { 2 };
        assert_eq!(overdue.len(), expected, "{tenant}");
        assert!(overdue
            .iter()
            .all(|i| i.customer.starts_with(&format!("{tenant}-")) && i.version == 2));
    }
    let items = raw_scan(&db).await;
    let invoices: Vec<_> = items
        .iter()
        .filter(|i| s(i, "_pk").is_some_and(|pk| pk.contains("]#inv#")))
        .collect();
    assert_eq!(invoices.len(), 12);
    for item in invoices {
        let pk = s(item, "_pk").unwrap();
        let customer = s(item, "customer").unwrap();
        let tenant = customer.split('-').next().unwrap();
        assert!(
            pk.starts_with(&format!("[{tenant}]#inv#")),
            "{pk} {customer}"
        );
    }
    // The registry is global: its keys carry no tenant.
    let registry: Vec<&str> = items
        .iter()
        .filter_map(|i| s(i, "_pk"))
        .filter(|pk| pk.starts_with("tenant#"))
        .collect();
    assert_eq!(registry, ["tenant#all"; 3]);
}

#[tokio::test]
async fn admin_stats_reports_every_tenant_in_parallel_without_mixing() {
    let db = fresh_db().await.unwrap();
    let tenants = admin_stats::tenants();
    admin_stats::seed(&db, &tenants).await.unwrap();
    let stats = admin_stats::report(&db, &tenants).await.unwrap();
    assert_eq!(stats.len(), 6);
    for (i, line) in stats.iter().enumerate() {
        assert_eq!(line.tenant, tenants[i]);
        let (placed, shipped, revenue) = admin_stats::expected(i);
        assert_eq!(
            (line.placed, line.shipped, line.revenue_cents, line.foreign),
            (placed, shipped, revenue, 0),
            "{}",
            line.tenant
        );
    }
    // The report ran no query without a tenant, and left nothing scoped behind.
    assert_eq!(TenantContext::scoped(), None);

    // The same futures under one outer scope: each with_tenant still wins inside its own
    // future, and the outer tenant is back afterwards.
    let outer = dynabao::testkit::fresh_tenant();
    let inside = TenantContext::run_with_tenant(&outer, async {
        let stats = admin_stats::report(&db, &tenants).await?;
        Ok::<_, Error>((stats, TenantContext::scoped()))
    })
    .await
    .unwrap();
    assert_eq!(inside.0, stats);
    assert_eq!(inside.1, Some(outer));
}
