//! Creating and deleting the single table.
//!
//! The table has `_pk`/`_sk` (strings), GSIs `gsi1`..`gsi5` on `_gsiN_pk`/`_gsiN_sk` projecting
//! all attributes, on-demand billing, and TTL on `_ttl`.

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};

use crate::db::Db;
use crate::error::Error;
use crate::exec;
use crate::key::{gsi_names, KeyScope, GSI_COUNT, PK_ATTR, SK_ATTR, TTL_ATTR};

/// The model named in the spans of table management.
const SPAN_MODEL: &str = "table";

/// How long [`Db::create_table`] waits for the table to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(120);

fn key(attr: &str, key_type: KeyType) -> Result<KeySchemaElement, Error> {
    KeySchemaElement::builder()
        .attribute_name(attr)
        .key_type(key_type)
        .build()
        .map_err(|e| Error::Config(e.to_string()))
}

fn string_attr(attr: &str) -> Result<AttributeDefinition, Error> {
    AttributeDefinition::builder()
        .attribute_name(attr)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| Error::Config(e.to_string()))
}

impl Db {
    /// Creates the table if it does not exist, waits until it is active, and enables TTL.
    /// Creating a table that exists is not an error.
    ///
    /// Fails with [`Error::DuplicatePrefix`] before sending anything when two models of the
    /// program share a keyspace under this handle's tenancy (see [`crate::model::registry`]).
    pub async fn create_table(&self) -> Result<(), Error> {
        crate::model::registry::check_prefixes(self.tenancy())?;
        let mut request = self
            .client()
            .create_table()
            .table_name(self.table())
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK_ATTR, KeyType::Hash)?)
            .key_schema(key(SK_ATTR, KeyType::Range)?)
            .attribute_definitions(string_attr(PK_ATTR)?)
            .attribute_definitions(string_attr(SK_ATTR)?);
        for (name, pk, sk) in (1..=GSI_COUNT).filter_map(gsi_names) {
            request = request
                .attribute_definitions(string_attr(pk)?)
                .attribute_definitions(string_attr(sk)?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(name)
                        .key_schema(key(pk, KeyType::Hash)?)
                        .key_schema(key(sk, KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(|e| Error::Config(e.to_string()))?,
                );
        }
        match exec::send(self, "CreateTable", SPAN_MODEL, &KeyScope::Global, || {
            request.clone().send()
        })
        .await
        {
            Ok(_) => {}
            Err(e) => match e.into_service_error() {
                CreateTableError::ResourceInUseException(_) => {}
                other => return Err(Error::dynamo("CreateTable", other)),
            },
        }
        self.wait_until_active().await?;
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTR)
            .enabled(true)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let update_ttl = self
            .client()
            .update_time_to_live()
            .table_name(self.table())
            .time_to_live_specification(ttl);
        if let Err(e) = exec::send(
            self,
            "UpdateTimeToLive",
            SPAN_MODEL,
            &KeyScope::Global,
            || update_ttl.clone().send(),
        )
        .await
        {
            // Enabling TTL twice is rejected with a ValidationException; that is fine.
            let e = e.into_service_error();
            if !e.to_string().contains("already enabled") && !is_validation(&e) {
                return Err(Error::dynamo("UpdateTimeToLive", e));
            }
        }
        Ok(())
    }

    async fn wait_until_active(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
        let mut delay = Duration::from_millis(50);
        loop {
            let describe = self.client().describe_table().table_name(self.table());
            let out = exec::send(self, "DescribeTable", SPAN_MODEL, &KeyScope::Global, || {
                describe.clone().send()
            })
            .await
            .map_err(|e| Error::dynamo("DescribeTable", e.into_service_error()))?;
            let table = out.table.as_ref();
            let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
            let indexes_active = table
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .all(|i| i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active));
            if table_active && indexes_active {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Config(format!(
                    "table {} did not become active within {ACTIVE_TIMEOUT:?}",
                    self.table()
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Deletes the table. Deleting a table that does not exist is not an error.
    pub async fn delete_table(&self) -> Result<(), Error> {
        let delete = self.client().delete_table().table_name(self.table());
        match exec::send(self, "DeleteTable", SPAN_MODEL, &KeyScope::Global, || {
            delete.clone().send()
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                DeleteTableError::ResourceNotFoundException(_) => Ok(()),
                other => Err(Error::dynamo("DeleteTable", other)),
            },
        }
    }

    /// Whether the table exists.
    pub async fn table_exists(&self) -> Result<bool, Error> {
        let describe = self.client().describe_table().table_name(self.table());
        match exec::send(self, "DescribeTable", SPAN_MODEL, &KeyScope::Global, || {
            describe.clone().send()
        })
        .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                DescribeTableError::ResourceNotFoundException(_) => Ok(false),
                other => Err(Error::dynamo("DescribeTable", other)),
            },
        }
    }
}

fn is_validation(
    e: &aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveError,
) -> bool {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    e.code() == Some("ValidationException")
}
