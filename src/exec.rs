//! The one place every request to DynamoDB passes through: a tracing span with `db.*` fields
//! and the tenant. Retries, throttling and capacity accounting plug in here.

use std::future::Future;

use tracing::Instrument;

use crate::key::KeyScope;

/// Runs one DynamoDB request inside a span that names the operation, table, model and tenant.
pub(crate) async fn send<T, E, F>(
    operation: &'static str,
    table: &str,
    model: &'static str,
    scope: &KeyScope,
    request: F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let span = tracing::debug_span!(
        "dynabao.request",
        db.system = "dynamodb",
        db.operation = operation,
        db.name = table,
        dynabao.model = model,
        dynabao.tenant = scope.tenant().map(|t| t.as_str()).unwrap_or("")
    );
    request.instrument(span).await
}
