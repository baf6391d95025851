//! Retry classification, timeouts and capacity accounting of `send`, driven by futures that stand in for the SDK call.

use super::*;
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

fn response(status: u16) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::empty(),
    )
}

fn service(e: GetItemError, status: u16) -> SdkError<GetItemError, HttpResponse> {
    SdkError::service_error(e, response(status))
}

#[test]
fn throttling_codes() {
    assert!(is_throttling_code("ProvisionedThroughputExceededException"));
    assert!(!is_throttling_code("ValidationException"));
}

type E = SdkError<GetItemError, HttpResponse>;

fn generic(code: &str) -> GetItemError {
    GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build())
}

fn dispatch(e: ConnectorError) -> E {
    SdkError::dispatch_failure(e)
}

fn boxed(msg: &str) -> Box<dyn std::error::Error + Send + Sync> {
    msg.to_owned().into()
}

/// (error, retryable, may have been applied)
fn shapes() -> Vec<(&'static str, E, bool, bool)> {
    vec![
        (
            "construction failure",
            SdkError::construction_failure(boxed("bad input")),
            false,
            false,
        ),
        (
            "sdk timeout",
            SdkError::timeout_error(boxed("timed out")),
            true,
            true,
        ),
        (
            "dispatch: io",
            dispatch(ConnectorError::io(boxed("connection reset"))),
            true,
            true,
        ),
        (
            "dispatch: timeout",
            dispatch(ConnectorError::timeout(boxed("connect timeout"))),
            true,
            true,
        ),
        (
            "dispatch: user",
            dispatch(ConnectorError::user(boxed("invalid request"))),
            false,
            false,
        ),
        // What hyper's IncompleteMessage becomes: a connection closed without an answer.
        (
            "dispatch: other, transient",
            dispatch(ConnectorError::other(
                boxed("connection closed before message completed"),
                Some(ErrorKind::TransientError),
            )),
            true,
            true,
        ),
        (
            "dispatch: other, unclassified",
            dispatch(ConnectorError::other(boxed("?"), None)),
            true,
            true,
        ),
        (
            "dispatch: other, server",
            dispatch(ConnectorError::other(
                boxed("?"),
                Some(ErrorKind::ServerError),
            )),
            true,
            true,
        ),
        (
            "dispatch: other, throttling",
            dispatch(ConnectorError::other(
                boxed("?"),
                Some(ErrorKind::ThrottlingError),
            )),
            true,
            true,
        ),
        (
            "dispatch: other, client",
            dispatch(ConnectorError::other(
                boxed("?"),
                Some(ErrorKind::ClientError),
            )),
            false,
            true,
        ),
        (
            "response cut short",
            SdkError::response_error(boxed("unexpected eof"), response(200)),
            true,
            true,
        ),
        (
            "throttled (modeled)",
            service(
                GetItemError::ProvisionedThroughputExceededException(
                    ProvisionedThroughputExceededException::builder()
                        .message("slow down")
                        .meta(
                            ErrorMetadata::builder()
                                .code("ProvisionedThroughputExceededException")
                                .build(),
                        )
                        .build(),
                ),
                400,
            ),
            true,
            false,
        ),
        (
            "ThrottlingException",
            service(generic("ThrottlingException"), 400),
            true,
            false,
        ),
        (
            "RequestLimitExceeded",
            service(generic("RequestLimitExceeded"), 400),
            true,
            false,
        ),
        (
            "InternalServerError",
            service(generic("InternalServerError"), 500),
            true,
            true,
        ),
        (
            "ServiceUnavailable",
            service(generic("ServiceUnavailable"), 503),
            true,
            true,
        ),
        ("any 5xx", service(generic("Anything"), 502), true, true),
        (
            "TransactionConflict",
            service(generic("TransactionConflictException"), 400),
            true,
            false,
        ),
        (
            "ValidationException",
            service(generic("ValidationException"), 400),
            false,
            false,
        ),
        (
            "ConditionalCheckFailed",
            service(generic("ConditionalCheckFailedException"), 400),
            false,
            false,
        ),
        (
            "ResourceNotFound",
            service(generic("ResourceNotFoundException"), 400),
            false,
            false,
        ),
    ]
}

#[test]
fn every_sdk_error_shape_is_classified() {
    for (name, err, retryable, applied) in shapes() {
        assert_eq!(is_retryable(&err), retryable, "{name}: retryable");
        assert_eq!(
            may_have_applied(&err),
            applied,
            "{name}: may have been applied"
        );
    }
}

#[test]
fn cancelled_transactions_are_left_to_the_engine() {
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    let e = TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .meta(
                ErrorMetadata::builder()
                    .code("TransactionCanceledException")
                    .build(),
            )
            .build(),
    );
    let err: SdkError<TransactWriteItemsError, HttpResponse> =
        SdkError::service_error(e, response(400));
    assert!(!is_retryable(&err));
    assert!(!may_have_applied(&err));
    let other: SdkError<TransactWriteItemsError, HttpResponse> = SdkError::service_error(
        TransactWriteItemsError::generic(
            ErrorMetadata::builder().code("InternalServerError").build(),
        ),
        response(500),
    );
    assert!(is_retryable(&other) && may_have_applied(&other));
}

fn test_db(timeouts: crate::Timeouts, retry: crate::RetryPolicy) -> Db {
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build(),
    );
    Db::new(client, "t", crate::Tenancy::On)
        .with_timeouts(timeouts)
        .with_retry(retry)
}

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_and_is_retried_within_the_operation_budget() {
    let db = test_db(
        crate::Timeouts::new()
            .with_attempt(Duration::from_millis(100))
            .with_operation(Duration::from_millis(350)),
        crate::RetryPolicy::new()
            .with_max_attempts(20)
            .with_base_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(10)),
    );
    let attempts = AtomicU32::new(0);
    let start = tokio::time::Instant::now();
    let tracked = send_tracked(&db, "GetItem", "M", &KeyScope::Global, || {
        attempts.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<Result<GetItemOutput, E>>()
    })
    .await;
    let n = attempts.load(Ordering::SeqCst);
    // 100 ms per attempt and up to 10 ms between: three full attempts fit in 350 ms, and a
    // fourth gets what is left.
    assert!((3..=4).contains(&n), "{n} attempts");
    assert!(matches!(tracked.result, Err(SdkError::TimeoutError(_))));
    assert!(tracked.ambiguous_before && tracked.outcome_unknown());
    // Never past the operation's deadline.
    assert!(start.elapsed() <= Duration::from_millis(350));
}

#[tokio::test(start_paused = true)]
async fn an_answer_after_stalled_attempts_is_ok_and_remembers_them() {
    let db = test_db(
        crate::Timeouts::new()
            .with_attempt(Duration::from_millis(50))
            .with_operation(Duration::from_secs(5)),
        crate::RetryPolicy::new().with_base_delay(Duration::from_millis(1)),
    );
    let attempts = AtomicU32::new(0);
    let tracked = send_tracked(&db, "GetItem", "M", &KeyScope::Global, || {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                std::future::pending::<()>().await;
            }
            Ok::<_, E>(GetItemOutput::builder().build())
        }
    })
    .await;
    assert!(tracked.result.is_ok());
    assert!(tracked.ambiguous_before);
    assert!(!tracked.outcome_unknown());
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn the_attempt_budget_still_bounds_timeouts() {
    let db = test_db(
        crate::Timeouts::new()
            .with_attempt(Duration::from_millis(10))
            .with_operation(Duration::from_secs(60)),
        crate::RetryPolicy::new()
            .with_max_attempts(3)
            .with_base_delay(Duration::from_millis(1)),
    );
    let attempts = AtomicU32::new(0);
    let tracked = send_tracked(&db, "GetItem", "M", &KeyScope::Global, || {
        attempts.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<Result<GetItemOutput, E>>()
    })
    .await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert!(matches!(tracked.result, Err(SdkError::TimeoutError(_))));
}

#[tokio::test(start_paused = true)]
async fn definite_failures_before_leave_the_outcome_known() {
    let db = test_db(
        crate::Timeouts::default(),
        crate::RetryPolicy::new()
            .with_max_attempts(3)
            .with_base_delay(Duration::from_millis(1)),
    );
    let tracked = send_tracked(&db, "GetItem", "M", &KeyScope::Global, || async {
        Err::<GetItemOutput, E>(service(generic("ThrottlingException"), 400))
    })
    .await;
    assert!(tracked.result.is_err());
    assert!(!tracked.ambiguous_before && !tracked.outcome_unknown());
    let attempts = AtomicU32::new(0);
    let tracked = send_tracked(&db, "GetItem", "M", &KeyScope::Global, || {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        async move {
            Err::<GetItemOutput, E>(if n == 0 {
                service(generic("InternalServerError"), 500)
            } else {
                service(generic("ConditionalCheckFailedException"), 400)
            })
        }
    })
    .await;
    assert!(tracked.ambiguous_before && tracked.outcome_unknown());
}

#[test]
fn capacity_is_attributed_by_kind() {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    let cc = ConsumedCapacity::builder().capacity_units(1.5).build();
    let get = GetItemOutput::builder()
        .consumed_capacity(cc.clone())
        .build();
    assert_eq!(units(&get).read_units, 1.5);
    assert_eq!(units(&get).write_units, 0.0);
    let put = PutItemOutput::builder().consumed_capacity(cc).build();
    assert_eq!(units(&put).write_units, 1.5);
    let split = ConsumedCapacity::builder()
        .capacity_units(3.0)
        .read_capacity_units(1.0)
        .write_capacity_units(2.0)
        .build();
    let put = PutItemOutput::builder().consumed_capacity(split).build();
    assert_eq!(
        (units(&put).read_units, units(&put).write_units),
        (1.0, 2.0)
    );
}
