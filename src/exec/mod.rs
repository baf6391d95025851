//! The one place every request to DynamoDB passes through: a tracing span with `db.*` fields
//! and the tenant, retries of throttling and transient errors under the handle's
//! [`RetryPolicy`](crate::RetryPolicy), and consumed-capacity accounting (span fields, and the
//! running [`Loader`](crate::Loader) scope's totals, kept by [`capacity`]).

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::ConsumedCapacity;
use aws_smithy_types::retry::ErrorKind;
use tracing::Instrument;

use crate::db::Db;
use crate::key::KeyScope;
use crate::retry::{is_throttling_code, TRANSIENT_CODES};

mod capacity;

pub use capacity::Capacity;
pub(crate) use capacity::CapacityMeter;

/// Whether an error is worth another attempt: throttling, 5xx, transient service errors,
/// timeouts (the SDK's and the handle's [per-attempt timeout](crate::Timeouts)), every transient
/// dispatch failure (an I/O error, a connect timeout, a connection the server or a load balancer
/// closed without answering, which the SDK reports as an "other" error of kind
/// `TransientError`, and connector errors nobody classified), and responses cut short. Never a
/// modeled client error (validation, conditional check, cancelled transaction), a request the
/// SDK could not build, nor a connector error the SDK calls the caller's fault.
pub(crate) fn is_retryable<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(f) => {
            if f.is_io() || f.is_timeout() {
                return true;
            }
            if f.is_user() {
                return false;
            }
            // Unclassified: retry unless the SDK says the client is at fault.
            !matches!(f.as_other(), Some(ErrorKind::ClientError))
        }
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            if is_cancelled_transaction(e) {
                // Cancellations are decided by the transaction engine, which re-reads and
                // rebuilds with a new token when only conflicts or throttling cancelled it.
                return false;
            }
            let code_says = e
                .code()
                .is_some_and(|c| is_throttling_code(c) || TRANSIENT_CODES.contains(&c));
            code_says || ctx.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// Whether the request of an attempt that failed with `err` may have been applied by DynamoDB.
///
/// `false` only when it certainly was not: the request was never built or the SDK refused to
/// send it, or DynamoDB answered with a 4xx error (throttling, validation, a failed condition,
/// a conflict), which it sends only for requests it did not apply. A timeout, a dropped
/// connection, a response cut short and a 5xx (DynamoDB documents `InternalServerError` as
/// "the request may have succeeded") leave the outcome unknown.
pub(crate) fn may_have_applied<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(f) => !f.is_user(),
        SdkError::ServiceError(ctx) => !ctx.raw().status().is_client_error(),
        _ => true,
    }
}

fn is_cancelled_transaction<E: 'static>(e: &E) -> bool {
    let any = e as &dyn Any;
    matches!(
        any.downcast_ref::<TransactWriteItemsError>(),
        Some(TransactWriteItemsError::TransactionCanceledException(_))
    ) || matches!(
        any.downcast_ref::<TransactGetItemsError>(),
        Some(TransactGetItemsError::TransactionCanceledException(_))
    )
}

/// Whether an operation reads or writes, to attribute `CapacityUnits` when DynamoDB does not
/// split them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// Outputs that report consumed capacity (requests ask for `TOTAL`).
pub(crate) trait Consumed {
    /// The operation's kind.
    const KIND: Kind;
    /// The capacity entries of the output.
    fn capacity(&self) -> Vec<&ConsumedCapacity>;
}

macro_rules! consumed_one {
    ($($t:ty => $kind:ident),* $(,)?) => {$(
        impl Consumed for $t {
            const KIND: Kind = Kind::$kind;
            fn capacity(&self) -> Vec<&ConsumedCapacity> {
                self.consumed_capacity().into_iter().collect()
            }
        }
    )*};
}
macro_rules! consumed_many {
    ($($t:ty => $kind:ident),* $(,)?) => {$(
        impl Consumed for $t {
            const KIND: Kind = Kind::$kind;
            fn capacity(&self) -> Vec<&ConsumedCapacity> {
                self.consumed_capacity().iter().collect()
            }
        }
    )*};
}
consumed_one!(
    aws_sdk_dynamodb::operation::get_item::GetItemOutput => Read,
    aws_sdk_dynamodb::operation::query::QueryOutput => Read,
    aws_sdk_dynamodb::operation::scan::ScanOutput => Read,
    aws_sdk_dynamodb::operation::put_item::PutItemOutput => Write,
    aws_sdk_dynamodb::operation::update_item::UpdateItemOutput => Write,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput => Write,
);
/// Table management reports no capacity; it is sent here for the span, the timeouts and the
/// retries like every other request.
macro_rules! consumed_none {
    ($($t:ty => $kind:ident),* $(,)?) => {$(
        impl Consumed for $t {
            const KIND: Kind = Kind::$kind;
            fn capacity(&self) -> Vec<&ConsumedCapacity> {
                Vec::new()
            }
        }
    )*};
}
consumed_none!(
    aws_sdk_dynamodb::operation::create_table::CreateTableOutput => Write,
    aws_sdk_dynamodb::operation::delete_table::DeleteTableOutput => Write,
    aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput => Read,
    aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveOutput => Write,
);
consumed_many!(
    aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput => Read,
    aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput => Write,
    aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsOutput => Read,
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput => Write,
);

/// The read and write units of an output: DynamoDB's split when it gives one, else its total
/// attributed by the operation's kind.
pub(crate) fn units<T: Consumed>(out: &T) -> Capacity {
    let mut c = Capacity::default();
    for cc in out.capacity() {
        match (cc.read_capacity_units(), cc.write_capacity_units()) {
            (None, None) => {
                let total = cc.capacity_units().unwrap_or(0.0);
                match T::KIND {
                    Kind::Read => c.read_units += total,
                    Kind::Write => c.write_units += total,
                }
            }
            (r, w) => {
                c.read_units += r.unwrap_or(0.0);
                c.write_units += w.unwrap_or(0.0);
            }
        }
    }
    c
}

/// The result of [`send_tracked`]: the final result, and whether an earlier attempt failed in
/// a way that leaves its outcome unknown (it may have been applied).
pub(crate) struct Tracked<T, E> {
    /// What the last attempt gave.
    pub(crate) result: Result<T, SdkError<E, HttpResponse>>,
    /// Whether an attempt before the last one may have been applied
    /// ([`may_have_applied`]).
    pub(crate) ambiguous_before: bool,
}

impl<T, E> Tracked<T, E> {
    /// Whether the request may have been applied although the result is an error: an earlier
    /// attempt may have been, or the last one's own error leaves it open.
    pub(crate) fn outcome_unknown(&self) -> bool {
        match &self.result {
            Ok(_) => false,
            Err(e) => self.ambiguous_before || may_have_applied(e),
        }
    }
}

/// The error an attempt gets when the handle's per-attempt timeout, or what is left of its
/// per-operation timeout, runs out before DynamoDB answers. Reported as the SDK's
/// [`SdkError::TimeoutError`], so it is retried like the SDK's own timeouts.
#[derive(Debug, thiserror::Error)]
#[error("no answer from DynamoDB within {waited:?} ({which} timeout)")]
pub(crate) struct Elapsed {
    waited: Duration,
    which: &'static str,
}

/// Runs one DynamoDB request inside a span that names the operation, table, model and tenant,
/// retrying it under `db`'s retry policy while it fails with a
/// [retryable](is_retryable) error. `make` builds a fresh attempt each time.
///
/// The span records the number of attempts and the consumed capacity; the capacity is also
/// added to the running [`Loader`](crate::Loader) scope, if any.
pub(crate) async fn send<T, E, F, Fut>(
    db: &Db,
    operation: &'static str,
    model: &'static str,
    scope: &KeyScope,
    make: F,
) -> Result<T, SdkError<E, HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    T: Consumed,
    E: ProvideErrorMetadata + 'static,
{
    send_tracked(db, operation, model, scope, make).await.result
}

/// [`send`], also saying whether an earlier attempt may have been applied, for writes that
/// must tell "not applied" from "unknown".
///
/// Every attempt is bounded by the handle's [per-attempt timeout](crate::Timeouts::attempt),
/// and all attempts and the waits between them by its
/// [per-operation timeout](crate::Timeouts::operation): a stalled attempt becomes a retryable
/// [`SdkError::TimeoutError`], and no retry starts (nor wait is slept) past the operation's
/// deadline.
pub(crate) async fn send_tracked<T, E, F, Fut>(
    db: &Db,
    operation: &'static str,
    model: &'static str,
    scope: &KeyScope,
    mut make: F,
) -> Tracked<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    T: Consumed,
    E: ProvideErrorMetadata + 'static,
{
    let span = tracing::debug_span!(
        "dynabao.request",
        db.system = "dynamodb",
        db.operation = operation,
        db.name = db.table(),
        dynabao.model = model,
        dynabao.tenant = scope.tenant().map(|t| t.as_str()).unwrap_or(""),
        dynabao.attempts = tracing::field::Empty,
        dynabao.read_units = tracing::field::Empty,
        dynabao.write_units = tracing::field::Empty,
    );
    let policy = db.retry_policy();
    let timeouts = db.timeouts();
    async move {
        let deadline = Instant::now() + timeouts.operation();
        let mut attempt: u32 = 1;
        let mut ambiguous_before = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (budget, which) = if timeouts.attempt() <= left {
                (timeouts.attempt(), "per-attempt")
            } else {
                (left, "per-operation")
            };
            let result = match tokio::time::timeout(budget, make()).await {
                Ok(result) => result,
                Err(_) => Err(SdkError::timeout_error(Elapsed {
                    waited: budget,
                    which,
                })),
            };
            match result {
                Ok(out) => {
                    let c = units(&out);
                    let span = tracing::Span::current();
                    span.record("dynabao.attempts", attempt);
                    span.record("dynabao.read_units", c.read_units);
                    span.record("dynabao.write_units", c.write_units);
                    capacity::record(c);
                    return Tracked {
                        result: Ok(out),
                        ambiguous_before,
                    };
                }
                Err(err) if policy.may_retry(attempt) && is_retryable(&err) => {
                    let delay = policy.delay(attempt);
                    if Instant::now() + delay >= deadline {
                        tracing::debug!(
                            attempt,
                            code = error_code(&err),
                            "dynabao: per-operation timeout reached; not retrying"
                        );
                        tracing::Span::current().record("dynabao.attempts", attempt);
                        return Tracked {
                            result: Err(err),
                            ambiguous_before,
                        };
                    }
                    tracing::debug!(
                        attempt,
                        ?delay,
                        code = error_code(&err),
                        "dynabao: retrying after a retryable error"
                    );
                    ambiguous_before |= may_have_applied(&err);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::Span::current().record("dynabao.attempts", attempt);
                    return Tracked {
                        result: Err(err),
                        ambiguous_before,
                    };
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// The error code of an SDK error, for logs.
fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> &str {
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code().unwrap_or("unknown"),
        SdkError::TimeoutError(_) => "timeout",
        SdkError::DispatchFailure(_) => "dispatch_failure",
        SdkError::ResponseError(_) => "response_error",
        SdkError::ConstructionFailure(_) => "construction_failure",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests;
