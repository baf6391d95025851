//! Tenants of non-HTTP events: SQS messages, EventBridge events, DynamoDB stream records.
//!
//! These events reach a function with no HTTP request and no authorizer, so the tenant comes
//! from the payload, put there by the producer that knew it (the service that sent the message
//! inside its own tenant scope), or from the stored key itself for stream records. The pattern:
//!
//! 1. take the records out of the event;
//! 2. for each record, find its tenant ([`tenant_at`] for a JSON payload, [`tenant_of_key`] for
//!    a stream record's `_pk`);
//! 3. run the record's handler scoped to that tenant ([`for_each_in_tenant`]), one record at a
//!    time, so a batch that mixes tenants never runs one record under another's tenant;
//! 4. report the records that failed (SQS partial batch responses), not the whole batch.
//!
//! A record whose tenant cannot be found fails on its own with [`Error::TenantRequired`] or
//! [`Error::InvalidTenantId`]; it never runs without a tenant or under a default one.
//!
//! ```no_run
//! use dynabao::lambda::events::{for_each_in_tenant, tenant_at};
//! use dynabao::{Config, Db, Error};
//! use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! // SQS: every message body is JSON that carries its tenant: {"tenant_id": "acme", ...}.
//! async fn handle(db: &Db, event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
//!     let records = event.payload["Records"].as_array().cloned().unwrap_or_default();
//!     let ids: Vec<String> = records
//!         .iter()
//!         .map(|r| r["messageId"].as_str().unwrap_or_default().to_owned())
//!         .collect();
//!     let outcomes = for_each_in_tenant(
//!         records,
//!         |record| {
//!             let body: Value = serde_json::from_str(record["body"].as_str().unwrap_or("null"))
//!                 .unwrap_or(Value::Null);
//!             tenant_at(&body, "/tenant_id")
//!         },
//!         |record| async move {
//!             // Everything here runs scoped to the record's tenant.
//!             let _ = (db, record);
//!             Ok::<_, Error>(())
//!         },
//!     )
//!     .await;
//!     // Partial batch response: only the failed messages are retried.
//!     let failures: Vec<Value> = ids
//!         .iter()
//!         .zip(&outcomes)
//!         .filter(|(_, outcome)| outcome.is_err())
//!         .map(|(id, _)| json!({ "itemIdentifier": id }))
//!         .collect();
//!     Ok(json!({ "batchItemFailures": failures }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let db = Db::connect(Config::from_env()?).await?; // once, outside the handler
//!     lambda_runtime::run(service_fn(|event| handle(&db, event))).await
//! }
//! ```

use std::future::Future;

use crate::key::{parse_key, KeyScope};
use crate::tenant::{TenantContext, TenantId};
use crate::Error;

/// The tenant at the JSON pointer `pointer` of an event payload: `/detail/tenant_id` for an
/// EventBridge event, `/tenant_id` for a message body you parsed, `/messageAttributes/tenant_id/stringValue`
/// for an SQS message attribute.
///
/// Absent (or `null`): [`Error::TenantRequired`]. Not a string or integer, or not a valid tenant
/// id: [`Error::InvalidTenantId`].
pub fn tenant_at(payload: &serde_json::Value, pointer: &str) -> Result<TenantId, Error> {
    match payload.pointer(pointer) {
        None | Some(serde_json::Value::Null) => Err(Error::TenantRequired),
        Some(value) => match crate::http::json_claim(value) {
            Ok(id) => TenantId::new(id),
            Err(_) => Err(Error::InvalidTenantId {
                value: String::new(),
                reason: "is not a string",
            }),
        },
    }
}

/// The tenant a stored key belongs to (the `_pk` or `_sk` of a DynamoDB stream record's
/// `Keys`), read back by the key builder's parser; `None` for a key that carries no tenant (a
/// global model, or a string the key builder never writes).
pub fn tenant_of_key(stored: &str) -> Option<TenantId> {
    match parse_key(stored, true)?.scope {
        KeyScope::Tenant(tenant) => Some(tenant),
        KeyScope::Global => None,
    }
}

/// Runs `handler` for each record, one at a time, scoped to the tenant `tenant_of` finds in
/// it, and returns every record's outcome in the records' order.
///
/// A record whose tenant cannot be found (`tenant_of` fails) is not handled: its outcome is
/// that error, and the other records go on. Records are handled sequentially, which keeps the
/// order of a FIFO queue; for independent records, scope each one yourself with
/// [`TenantContext::run_with_tenant`] and join them.
pub async fn for_each_in_tenant<R, T, F, Fut, O, E>(
    records: impl IntoIterator<Item = R>,
    tenant_of: T,
    mut handler: F,
) -> Vec<Result<O, E>>
where
    T: Fn(&R) -> Result<TenantId, Error>,
    F: FnMut(R) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    E: From<Error>,
{
    let mut outcomes = Vec::new();
    for record in records {
        let outcome = match tenant_of(&record) {
            // The handler is called inside the scope, so code that runs before its future's
            // first await sees the tenant too.
            Ok(tenant) => TenantContext::scope(tenant, async { handler(record).await }).await,
            Err(e) => {
                tracing::warn!(
                    code = e.code(),
                    "dynabao: event record without a valid tenant skipped"
                );
                Err(E::from(e))
            }
        };
        outcomes.push(outcome);
    }
    outcomes
}
