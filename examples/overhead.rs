//! What dynabao costs over the raw `aws-sdk-dynamodb` client, measured side by side.
//!
//! ```sh
//! cargo run --release --example overhead
//! ```
//!
//! Two figures, each as dynabao / raw SDK:
//! 1. CPU: building the PutItem and GetItem requests (keys, encoding, expressions) without
//!    sending them.
//! 2. Round trips: sequential PutItem + GetItem of the same items against a local DynamoDB
//!    (the testkit's embedded engine, or `DYNAMODB_ENDPOINT`). Network and server time dominate; the ratio shows
//!    whether dynabao's work is visible at all.
//!
//! Set `OVERHEAD_ITEMS` to change the number of round trips (default 2000).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use dynabao::{Db, KeyPart, Model, Tenancy, TenantContext};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, KeyPart)]
#[serde(rename_all = "lowercase")]
enum Status {
    Active,
}

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(by_status(gsi = 1, pk = "status", sk = "created_at")))]
struct User {
    #[bao(pk)]
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

fn user(id: Ulid) -> User {
    User {
        id,
        email: format!("{id}@example.test"),
        status: Status::Active,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        version: 0,
    }
}

/// The same item and keys, written by hand as a user of the raw SDK would.
fn raw_item(tenant: &str, u: &User) -> HashMap<String, AttributeValue> {
    let s = |v: String| AttributeValue::S(v);
    let created = u.created_at.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
    HashMap::from([
        ("_pk".to_owned(), s(format!("[{tenant}]#u#{}", u.id))),
        ("_sk".to_owned(), s(format!("[{tenant}]#u#_"))),
        ("_gsi1_pk".to_owned(), s(format!("[{tenant}]#u#active"))),
        ("_gsi1_sk".to_owned(), s(format!("[{tenant}]#u#{created}"))),
        ("id".to_owned(), s(u.id.to_string())),
        ("email".to_owned(), s(u.email.clone())),
        ("status".to_owned(), s("active".to_owned())),
        ("created_at".to_owned(), s(u.created_at.to_rfc3339())),
        ("updated_at".to_owned(), s(u.updated_at.to_rfc3339())),
        ("version".to_owned(), AttributeValue::N("1".to_owned())),
    ])
}

fn raw_key(tenant: &str, id: Ulid) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "_pk".to_owned(),
            AttributeValue::S(format!("[{tenant}]#u#{id}")),
        ),
        (
            "_sk".to_owned(),
            AttributeValue::S(format!("[{tenant}]#u#_")),
        ),
    ])
}

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

#[tokio::main]
async fn main() -> dynabao::Result<()> {
    let n: usize = std::env::var("OVERHEAD_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let client = dynabao::testkit::sdk_client().await?;
    let db = Db::new(
        client.clone(),
        dynabao::testkit::unique_name("overhead-"),
        Tenancy::On,
    );
    db.create_table().await?;
    let tenant = "bench";
    let ids: Vec<Ulid> = (0..n).map(|_| Ulid::new()).collect();

    // 1. Building requests, no I/O.
    let build_n = 20_000;
    let (dyn_build, raw_build) = TenantContext::run_with_tenant(tenant, async {
        let start = Instant::now();
        for id in ids.iter().cycle().take(build_n) {
            let put = User::create(&db, user(*id)).to_request().await?;
            let get = User::find(&db, id).to_request().await?;
            std::hint::black_box((put, get));
        }
        let dyn_build = start.elapsed();
        let start = Instant::now();
        for id in ids.iter().cycle().take(build_n) {
            let u = user(*id);
            let put = client
                .put_item()
                .table_name(db.table())
                .set_item(Some(raw_item(tenant, &u)))
                .condition_expression("attribute_not_exists(#n0)")
                .expression_attribute_names("#n0", "_pk")
                .as_input()
                .clone()
                .build();
            let get = client
                .get_item()
                .table_name(db.table())
                .set_key(Some(raw_key(tenant, *id)))
                .as_input()
                .clone()
                .build();
            std::hint::black_box((put.is_ok(), get.is_ok()));
        }
        Ok::<_, dynabao::Error>((dyn_build, start.elapsed()))
    })
    .await?;

    // 2. Round trips on the local DynamoDB, on fresh ids each. An engine may warm up as it goes
    //    (DynamoDB Local's JVM does), so both sides run twice, alternating, and the second rounds
    //    are compared.
    let mut raw_rt = Duration::ZERO;
    let mut dyn_rt = Duration::ZERO;
    for _round in 0..2 {
        raw_rt = raw_round_trips(&client, db.table(), tenant, n).await?;
        dyn_rt = dynabao_round_trips(&db, tenant, n).await?;
    }
    db.delete_table().await?;

    print_figures(build_n, dyn_build, raw_build, n, dyn_rt, raw_rt);
    Ok(())
}

async fn raw_round_trips(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    tenant: &str,
    n: usize,
) -> dynabao::Result<Duration> {
    let start = Instant::now();
    for _ in 0..n {
        let u = user(Ulid::new());
        client
            .put_item()
            .table_name(table)
            .set_item(Some(raw_item(tenant, &u)))
            .condition_expression("attribute_not_exists(#n0)")
            .expression_attribute_names("#n0", "_pk")
            .send()
            .await
            .map_err(|e| dynabao::Error::TestKit(e.to_string()))?;
        let got = client
            .get_item()
            .table_name(table)
            .set_key(Some(raw_key(tenant, u.id)))
            .send()
            .await
            .map_err(|e| dynabao::Error::TestKit(e.to_string()))?;
        std::hint::black_box(got);
    }
    Ok(start.elapsed())
}

async fn dynabao_round_trips(db: &Db, tenant: &str, n: usize) -> dynabao::Result<Duration> {
    TenantContext::run_with_tenant(tenant, async {
        let start = Instant::now();
        for _ in 0..n {
            let created = User::create(db, user(Ulid::new())).await?;
            let found = User::find(db, &created.id).await?;
            std::hint::black_box(found);
        }
        Ok::<_, dynabao::Error>(start.elapsed())
    })
    .await
}

fn print_figures(
    build_n: usize,
    dyn_build: Duration,
    raw_build: Duration,
    n: usize,
    dyn_rt: Duration,
    raw_rt: Duration,
) {
    println!("build PutItem+GetItem requests ({build_n} pairs, no I/O):");
    println!(
        "  dynabao {:.2} us/pair, raw SDK {:.2} us/pair, ratio {:.2}",
        per_op(dyn_build, build_n),
        per_op(raw_build, build_n),
        dyn_build.as_secs_f64() / raw_build.as_secs_f64()
    );
    println!("round trips on the local DynamoDB ({n} create + find pairs, sequential):");
    println!(
        "  dynabao {:.0} us/pair, raw SDK {:.0} us/pair, ratio {:.3}",
        per_op(dyn_rt, n),
        per_op(raw_rt, n),
        dyn_rt.as_secs_f64() / raw_rt.as_secs_f64()
    );
}
