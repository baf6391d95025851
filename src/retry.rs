//! How dynabao retries: throttling, transient errors and unprocessed batch items; how long it
//! waits; and what a retry can do to a write.
//!
//! Every request passes one place (the crate's `exec` module), which retries it with exponential
//! backoff and *full jitter* (each wait is uniform in `0..=min(max_delay, base_delay * 2^n)`,
//! as in the AWS Architecture Blog's "Exponential Backoff and Jitter") when DynamoDB answers
//! with, or the network gives:
//!
//! - throttling: `ProvisionedThroughputExceededException`, `RequestLimitExceeded`,
//!   `ThrottlingException` (and the SDK's other throttling codes);
//! - a transient failure: HTTP 5xx, `InternalServerError`, `ServiceUnavailable`,
//!   `TransactionConflictException`, a transaction cancelled only by conflicts or throttling, a
//!   timeout, a dropped, reset or refused connection (also a connection the server or a load
//!   balancer closed without answering, which the SDK reports as a dispatch failure that is
//!   neither I/O nor timeout), a response cut short.
//!
//! Batch operations also resend the items DynamoDB returns as unprocessed, with the same
//! backoff, until the budget is spent; what is left is reported in
//! [`Error::BatchIncomplete`](crate::Error::BatchIncomplete).
//!
//! # Time bounds
//!
//! [`Timeouts`] bound every request: each attempt waits at most
//! [`attempt`](Timeouts::attempt) (5 s by default) for its answer, and all attempts of one
//! request with the waits between them take at most [`operation`](Timeouts::operation) (20 s).
//! An attempt that runs out becomes a retryable timeout inside the retry budget; no retry starts
//! past the operation's deadline, and the request then fails with the last error. The bound is
//! per request: a batch's chunks and a transaction's reads each have their own. Set them on
//! [`Config::timeouts`](crate::Config::timeouts) (or `DYNABAO_ATTEMPT_TIMEOUT_MS` /
//! `DYNABAO_OPERATION_TIMEOUT_MS`) or [`Db::with_timeouts`](crate::Db::with_timeouts). They
//! also apply to a client you built yourself, on top of any timeouts you gave the SDK.
//!
//! # The SDK's own retries
//!
//! The AWS SDK has its own retry layer (standard mode: 3 attempts by default). Both layers
//! multiply: with the SDK at 3 attempts and this policy at 8, a throttled request may be sent up
//! to 24 times. [`Db::connect`](crate::Db::connect) therefore turns the SDK's retries off, so this
//! policy is the one budget and retries are counted, logged and configured in one place. A client
//! you build yourself and hand to [`Db::new`](crate::Db::new) keeps whatever retry configuration
//! you gave it: turn one of the two layers off (`RetryConfig::disabled()` on the SDK, or
//! [`RetryPolicy::none`] here), or accept the product. The SDK's standard mode also keeps a
//! client-wide retry quota (a token bucket that stops retries during an outage); this policy has
//! no such quota, its bound is per request.
//!
//! # What a retry can do
//!
//! A request that timed out, lost its connection or got a 5xx may have been applied. Its retry
//! can then meet the first attempt's effect. dynabao never turns that into a false answer:
//! after such an attempt, a write whose retry meets a failed condition compares the stored item
//! DynamoDB returns (every write asks for it) with what the write would have produced, and
//! answers `Ok` when it is the write's own effect, [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown)
//! when it cannot tell, and the definite error ([`AlreadyExists`](crate::Error::AlreadyExists),
//! [`VersionConflict`](crate::Error::VersionConflict), ...) only when no attempt was in doubt. A
//! write that runs out of retries after such an attempt is `OutcomeUnknown` too. Per operation:
//!
//! | write | a retry after a lost answer |
//! |---|---|
//! | reads, queries, scans | harmless |
//! | `create` | meets its own item: `Ok`; another item: `OutcomeUnknown` |
//! | `put` | writes the same item again: harmless (a concurrent write in between is overwritten) |
//! | `replace` | meets its own item at version + 1: `Ok`; anything else: `OutcomeUnknown` |
//! | `update` with `if_version` | meets version + 1 with its values: `Ok`; else `OutcomeUnknown` |
//! | `update` without `if_version` | **applied again**: a counter `add` counts twice and the version is bumped twice, unless the update has an [`idempotency_key`](crate::ops::Update::idempotency_key) (a retry that finds the key reports `Ok`) or is [`idempotent`](crate::ops::Update::idempotent) |
//! | `update` with a condition | meets its values (and fresh `updated_at`): `Ok`; else `OutcomeUnknown` |
//! | `delete` | finds the item gone: `OutcomeUnknown` around `NotFound` (the deleted item was lost with the answer); [`idempotent`](crate::ops::Delete::idempotent) deletes report `Ok` |
//! | writes of models with unique constraints, transactions, `.idempotent()` writes | sent with a client request token; DynamoDB answers a repeated token with the first call's success: applied once, `Ok` |
//! | batch puts and deletes | idempotent; items whose request lost its answer after the budget are marked [`OutcomeUnknown`](crate::batch::UnprocessedState::OutcomeUnknown) |
//!
//! [`idempotent`](crate::ops::Put::idempotent) (on `create`, `put`, `replace`, `update` and
//! `delete`) sends a single write as a one-item TransactWriteItems with a client request token:
//! twice the write units, and an update or delete also reads the item (a transaction returns no
//! values). `client_request_token(token)` does the same with your token, so your own retries
//! (a crash, a redelivered message) within DynamoDB's 10-minute window are applied once too.

use std::cell::Cell;
use std::time::Duration;

/// How many times, and how patiently, dynabao retries a request or resends unprocessed batch
/// items. See the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use dynabao::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_base_delay(Duration::from_millis(50))
///     .with_max_delay(Duration::from_secs(1));
/// assert_eq!(policy.max_attempts(), 5);
/// assert_eq!(policy.max_delay(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 25 ms base delay, 2 s maximum delay: a throttled request is given about
    /// 1.6 s of waiting on average before its error is returned.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The default policy (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// No retries: every request is sent once, and unprocessed batch items are reported after
    /// the first round.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts, the first one included (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the delay ceiling of the first retry; it doubles with each further retry.
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the largest delay ceiling.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The number of attempts, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay ceiling of the first retry.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The largest delay ceiling.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Whether attempt number `attempt` (1 for the first) may be followed by another.
    pub(crate) fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The most the wait before retry `retry` (1 for the first retry) can be:
    /// `min(max_delay, base_delay * 2^(retry - 1))`.
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry `retry` (1 for the first): uniform in `0..=ceiling(retry)`
    /// (full jitter).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(next_random() % nanos.saturating_add(1))
    }
}

/// How long dynabao waits for DynamoDB: per attempt, and per operation (all attempts of one
/// request and the waits between them). See the [module docs](self#time-bounds).
///
/// ```
/// use std::time::Duration;
/// use dynabao::Timeouts;
///
/// let t = Timeouts::default()
///     .with_attempt(Duration::from_secs(2))
///     .with_operation(Duration::from_secs(8));
/// assert_eq!(t.attempt(), Duration::from_secs(2));
/// assert_eq!(t.operation(), Duration::from_secs(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    attempt: Duration,
    operation: Duration,
}

impl Default for Timeouts {
    /// 5 s per attempt, 20 s per operation. DynamoDB answers in milliseconds; an attempt that
    /// takes seconds is stalled, and a new attempt on a new connection usually gets through.
    fn default() -> Self {
        Timeouts {
            attempt: Duration::from_secs(5),
            operation: Duration::from_secs(20),
        }
    }
}

impl Timeouts {
    /// The default timeouts (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long one attempt may wait for its answer (at least 1 ms). An attempt that
    /// runs out is retried like a timeout of the SDK's.
    pub fn with_attempt(mut self, timeout: Duration) -> Self {
        self.attempt = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets how long one request may take, all its attempts and the waits between them
    /// included (at least 1 ms). No retry starts after it.
    pub fn with_operation(mut self, timeout: Duration) -> Self {
        self.operation = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long one attempt may wait for its answer.
    pub fn attempt(&self) -> Duration {
        self.attempt
    }

    /// How long one request may take, retries included.
    pub fn operation(&self) -> Duration {
        self.operation
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

/// A seed that differs per thread and per process: the clock, the thread, a counter.
fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hash, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState carries per-process random keys from the OS; hashing the thread id, the time
    // and a counter with it gives every thread its own stream without a `rand` dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    std::thread::current().id().hash(&mut h);
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    // xorshift must not start at zero.
    h.finish() | 1
}

/// xorshift64*: plenty for jitter (not for anything secret).
fn next_random() -> u64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        cell.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// Error codes DynamoDB (and the AWS SDKs) use for throttling.
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "ThrottlingException",
    "ThrottlingError",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "BandwidthLimitExceeded",
];

/// Error codes of failures that a later attempt can get past.
pub(crate) const TRANSIENT_CODES: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
];

/// Whether `code` is one of DynamoDB's throttling codes.
pub(crate) fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ceilings_double_then_cap() {
        let p = RetryPolicy::default()
            .with_base_delay(Duration::from_millis(10))
            .with_max_delay(Duration::from_millis(100));
        let c: Vec<u128> = (1..=6).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(c, [10, 20, 40, 80, 100, 100]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_millis(100));
        assert_eq!(p.ceiling(0), Duration::from_millis(10));
    }

    #[test]
    fn attempts_are_at_least_one() {
        assert_eq!(RetryPolicy::none().max_attempts(), 1);
        assert!(!RetryPolicy::none().may_retry(1));
        assert_eq!(RetryPolicy::new().with_max_attempts(0).max_attempts(), 1);
        let p = RetryPolicy::new().with_max_attempts(3);
        assert!(p.may_retry(1) && p.may_retry(2) && !p.may_retry(3));
    }

    #[test]
    fn zero_delays_are_zero() {
        let p = RetryPolicy::new().with_base_delay(Duration::ZERO);
        assert_eq!(p.delay(5), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        let p = RetryPolicy::new()
            .with_base_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(100));
        let samples: Vec<Duration> = (0..2000).map(|_| p.delay(1)).collect();
        let ceiling = Duration::from_millis(100);
        assert!(samples.iter().all(|d| *d <= ceiling));
        let low = samples.iter().filter(|d| **d < ceiling / 4).count();
        let high = samples.iter().filter(|d| **d > ceiling * 3 / 4).count();
        // Uniform: about a quarter in each band; far from all-equal or all-max.
        assert!(low > 300 && high > 300, "low {low}, high {high}");
    }

    #[test]
    fn threads_get_different_streams() {
        let a = std::thread::spawn(next_random).join().unwrap();
        let b = std::thread::spawn(next_random).join().unwrap();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_its_ceiling(
            base in 0u64..5_000, max in 0u64..60_000, retry in 0u32..80,
        ) {
            let p = RetryPolicy::new()
                .with_base_delay(Duration::from_millis(base))
                .with_max_delay(Duration::from_millis(max));
            let c = p.ceiling(retry);
            prop_assert!(c <= Duration::from_millis(max));
            prop_assert!(p.delay(retry) <= c);
            // Ceilings never shrink from one retry to the next.
            prop_assert!(p.ceiling(retry + 1) >= c);
        }
    }
}
