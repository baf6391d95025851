//! Counting what the SDK puts on the wire.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;

/// Counts the HTTP requests an SDK client transmits, for tests that must prove an operation sent
/// nothing (fail-closed tenancy, validation before I/O) or sent exactly what it should.
///
/// Clones share one count, so keep a clone and hand another to the client. The count is taken
/// just before each transmission, so a retried operation counts every attempt; requests that fail
/// before reaching the wire (serialization, signing) are not counted.
///
/// ```no_run
/// # async fn demo() -> Result<(), dynabao::Error> {
/// use dynabao::testkit::{sdk_client_with, RequestCounter};
///
/// let counter = RequestCounter::new();
/// let client = sdk_client_with(&counter).await?;
/// // ... run the code under test with `client` ...
/// assert_eq!(counter.count(), 0, "no request may reach DynamoDB");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    sent: Arc<AtomicUsize>,
    tenants: Arc<std::sync::Mutex<Vec<Option<crate::TenantId>>>>,
    operations: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests transmitted so far by every client this counter is attached to.
    pub fn count(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// The tenant scoped in the task that sent each request, in order: proof that work spawned
    /// for an operation (batch chunks, loader batches) runs in the caller's tenant.
    pub fn tenants(&self) -> Vec<Option<crate::TenantId>> {
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The DynamoDB operation of each request (`GetItem`, `Scan`, ...), in order: proof that
    /// a read went through an index rather than a scan.
    pub fn operations(&self) -> Vec<String> {
        self.operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Adds this counter to an SDK config builder (for clients built by hand, e.g. from
    /// [`sdk_config`](super::sdk_config)).
    pub fn attach(
        &self,
        builder: aws_sdk_dynamodb::config::Builder,
    ) -> aws_sdk_dynamodb::config::Builder {
        builder.interceptor(self.clone())
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "dynabao::testkit::RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or_else(String::new, |m| m.name().to_owned());
        self.operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(operation);
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(crate::TenantContext::scoped());
        Ok(())
    }
}
