//! A background job that walks every tenant and does work in each, one tenant at a time.
//!
//! ```sh
//! cargo run --example background_job
//! ```
//!
//! The list of tenants lives in the table itself, as a global model (`#[bao(global)]`: keys
//! with no tenant, readable with no tenant in scope). The job reads it, then for each active
//! tenant enters `TenantContext::with_tenant` and marks that tenant's open invoices whose due
//! date has passed as overdue. Inside the scope the job's code looks like request-handling
//! code: it names no tenant, and cannot touch another tenant's invoices, because every key it
//! builds starts with the scoped tenant.
//!
//! It seeds a fresh table with three tenants (one inactive), runs the job, prints what it did,
//! and deletes the table. With `DYNAMODB_ENDPOINT` unset it runs on the testkit's embedded
//! engine (dynoxide, in memory, inside the process).

use chrono::{DateTime, Duration, Utc};
use dynabao::tenant::TenantId;
use dynabao::{Db, Error, KeyPart, Model, Tenancy, TenantContext};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// One row of the tenant registry: global, so it is read with no tenant in scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "tenant", global)]
pub struct TenantRecord {
    /// Always [`REGISTRY`]: every tenant in one partition, so one query lists them.
    #[bao(pk)]
    pub registry: String,
    #[bao(sk)]
    pub id: String,
    pub name: String,
    pub active: bool,
}

/// The registry's partition.
pub const REGISTRY: &str = "all";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    Open,
    Overdue,
    Paid,
}

/// A tenant's invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[bao(prefix = "inv")]
#[bao(index(by_status(gsi = 1, pk = "status", sk = "due")))]
pub struct Invoice {
    #[bao(pk, auto)]
    pub id: Ulid,
    pub customer: String,
    pub amount_cents: i64,
    pub status: InvoiceStatus,
    pub due: DateTime<Utc>,
    #[bao(version)]
    pub version: u64,
}

impl Invoice {
    fn new(customer: &str, amount_cents: i64, status: InvoiceStatus, due: DateTime<Utc>) -> Self {
        Invoice {
            id: Ulid::nil(),
            customer: customer.to_owned(),
            amount_cents,
            status,
            due,
            version: 0,
        }
    }
}

/// What the job did in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRun {
    pub tenant: TenantId,
    /// Open invoices seen.
    pub open: usize,
    /// Of those, marked overdue by this run.
    pub marked_overdue: usize,
}

/// Seeds the registry and each tenant's invoices: `acme` and `globex` active, `initech`
/// inactive; every tenant gets two past-due open invoices, one open invoice due later, and one
/// paid invoice.
pub async fn seed(db: &Db, now: DateTime<Utc>) -> Result<Vec<TenantId>, Error> {
    let tenants = [
        ("acme", "Acme Corp", true),
        ("globex", "Globex", true),
        ("initech", "Initech", false),
    ];
    let mut ids = Vec::new();
    for (id, name, active) in tenants {
        TenantRecord::put(
            db,
            TenantRecord {
                registry: REGISTRY.to_owned(),
                id: id.to_owned(),
                name: name.to_owned(),
                active,
            },
        )
        .await?;
        TenantContext::run_with_tenant(id, async {
            for (customer, cents, status, due) in [
                ("c1", 1200, InvoiceStatus::Open, now - Duration::days(3)),
                ("c2", 4500, InvoiceStatus::Open, now - Duration::days(1)),
                ("c3", 800, InvoiceStatus::Open, now + Duration::days(10)),
                ("c4", 9900, InvoiceStatus::Paid, now - Duration::days(30)),
            ] {
                Invoice::create(
                    db,
                    Invoice::new(&format!("{id}-{customer}"), cents, status, due),
                )
                .await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
        ids.push(TenantId::new(id)?);
    }
    Ok(ids)
}

/// The job: for every active tenant of the registry, one `with_tenant` at a time, mark open
/// invoices due before `now` as overdue.
pub async fn run(db: &Db, now: DateTime<Utc>) -> Result<Vec<TenantRun>, Error> {
    // A global model: no tenant needed to read the registry.
    let registry = TenantRecord::query(db, REGISTRY).all().await?;
    let mut runs = Vec::new();
    for record in registry.into_iter().filter(|r| r.active) {
        let tenant = TenantId::new(&record.id)?;
        let run = TenantContext::with_tenant(&tenant, async {
            let open = Invoice::query_by_status(db, &InvoiceStatus::Open)
                .all()
                .await?;
            let mut marked_overdue = 0;
            for invoice in open.iter().filter(|i| i.due < now) {
                // Version-checked: an invoice paid meanwhile is not marked.
                match Invoice::update(db, &invoice.id)
                    .set(Invoice::STATUS, InvoiceStatus::Overdue)
                    .if_version(invoice.version)
                    .await
                {
                    Ok(_) => marked_overdue += 1,
                    Err(Error::VersionConflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, Error>((open.len(), marked_overdue))
        })
        .await?;
        runs.push(TenantRun {
            tenant,
            open: run.0,
            marked_overdue: run.1,
        });
    }
    Ok(runs)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = dynabao::testkit::sdk_client().await?;
    let db = Db::new(
        client,
        dynabao::testkit::unique_name("background-job-"),
        Tenancy::On,
    );
    db.create_table().await?;
    let now = Utc::now();
    let tenants = seed(&db, now).await?;
    println!("seeded {} tenants in table {}", tenants.len(), db.table());

    let runs = run(&db, now).await?;
    for r in &runs {
        println!(
            "[{}] {} open invoices, {} marked overdue",
            r.tenant, r.open, r.marked_overdue
        );
    }
    // The inactive tenant was skipped: its past-due invoices are still open.
    let untouched = TenantContext::run_with_tenant("initech", async {
        Ok::<_, Error>(
            Invoice::query_by_status(&db, &InvoiceStatus::Open)
                .all()
                .await?
                .len(),
        )
    })
    .await?;
    println!("[initech] inactive, skipped: {untouched} invoices still open");
    db.delete_table().await?;
    Ok(())
}
