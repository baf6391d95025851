//! Table management against a real engine.

use dynabao::testkit::{sdk_client, unique_name};
use dynabao::{Db, Tenancy};

#[tokio::test]
async fn create_is_idempotent_and_builds_the_designed_table() -> dynabao::Result<()> {
    let db = Db::new(sdk_client().await?, unique_name("tbl-"), Tenancy::On);
    assert!(!db.table_exists().await?);
    db.create_table().await?;
    db.create_table().await?; // an existing table is not an error
    assert!(db.table_exists().await?);

    let table = db
        .client()
        .describe_table()
        .table_name(db.table())
        .send()
        .await
        .map_err(|e| dynabao::Error::TestKit(e.to_string()))?
        .table
        .expect("a described table");
    let keys: Vec<(&str, String)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str().to_owned()))
        .collect();
    assert_eq!(keys, vec![("_pk", "HASH".into()), ("_sk", "RANGE".into())]);
    let mut gsis: Vec<(String, Vec<String>, String)> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default().to_owned(),
                g.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_owned())
                    .collect(),
                g.projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    gsis.sort();
    let expected: Vec<(String, Vec<String>, String)> = (1..=5)
        .map(|n| {
            (
                format!("gsi{n}"),
                vec![format!("_gsi{n}_pk"), format!("_gsi{n}_sk")],
                "ALL".to_owned(),
            )
        })
        .collect();
    assert_eq!(gsis, expected);

    let ttl = db
        .client()
        .describe_time_to_live()
        .table_name(db.table())
        .send()
        .await
        .map_err(|e| dynabao::Error::TestKit(e.to_string()))?;
    let ttl = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some(dynabao::TTL_ATTR));

    db.delete_table().await?;
    db.delete_table().await?; // a missing table is not an error
    assert!(!db.table_exists().await?);
    Ok(())
}

#[tokio::test]
async fn connect_reaches_a_loopback_endpoint_without_aws_credentials() -> dynabao::Result<()> {
    let endpoint = dynabao::testkit::endpoint().await?;
    let config = dynabao::Config::new(unique_name("connect-")).endpoint(endpoint);
    let db = Db::connect(config).await?;
    db.create_table().await?;
    assert!(db.table_exists().await?);
    db.delete_table().await?;
    Ok(())
}
