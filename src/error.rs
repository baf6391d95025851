//! The one error type of the crate.
//!
//! Every fallible function in dynabao returns [`Error`]. The enum is `#[non_exhaustive]` so new
//! failure modes can be added without breaking callers; match on the variants you handle and keep
//! a wildcard arm. [`Error::code`] gives a stable, machine-readable code for each variant, for logs
//! and API responses.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::batch::Unprocessed;
use crate::transact::CancelReason;

/// A raw DynamoDB item, as stored.
pub type Item = HashMap<String, AttributeValue>;

/// A boxed error from user code (a resolver) or a lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in dynabao.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Tenancy is on and no tenant was found: no scope, no fallback and no resolver answered.
    /// No request was sent.
    #[error("no tenant in scope: wrap the call in TenantContext::run_with_tenant or configure a resolver")]
    TenantRequired,

    /// A tenant id failed validation (1..=64 characters from `[A-Za-z0-9._-]`).
    #[error("invalid tenant id {value:?}: {reason}")]
    InvalidTenantId {
        /// The rejected value (possibly truncated for display).
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A tenant resolver failed. Resolver errors stop the chain; they are never skipped.
    #[error("tenant resolver failed: {source}")]
    TenantResolver {
        /// The resolver's own error.
        #[source]
        source: BoxError,
    },

    /// DynamoDB returned an item that does not carry the current tenant's key prefix.
    /// The item was not decoded.
    #[error("item of model {model} does not belong to the current tenant (expected key prefix {expected:?})")]
    CrossTenant {
        /// The model that was being read.
        model: &'static str,
        /// The key prefix the item should have carried.
        expected: String,
    },

    /// A value cannot be encoded as a key part (for example a NaN float or a timestamp outside
    /// years 0..=9999).
    #[error("invalid key value for {field}: {reason}")]
    InvalidKeyValue {
        /// The field whose value was rejected.
        field: &'static str,
        /// Why.
        reason: String,
    },

    /// `create` found an item with the same key already stored.
    #[error("{model} already exists")]
    AlreadyExists {
        /// The model.
        model: &'static str,
    },

    /// The item to update, replace or delete does not exist. Decided by the write's own
    /// condition, not by a read before it.
    #[error("{model} not found")]
    NotFound {
        /// The model.
        model: &'static str,
    },

    /// The stored version is not the one the write expected.
    #[error("{model} version conflict: expected {expected}, stored {actual:?}")]
    VersionConflict {
        /// The model.
        model: &'static str,
        /// The version the write expected.
        expected: u64,
        /// The version that is stored, when DynamoDB returned it.
        actual: Option<u64>,
    },

    /// A user condition on a write did not hold.
    #[error("condition failed on {model}")]
    ConditionFailed {
        /// The model.
        model: &'static str,
        /// The item as stored when the condition failed, when DynamoDB returned it.
        /// Decode it with [`Error::current_item`].
        current: Option<Box<Item>>,
    },

    /// An update or query was built wrong: a key field set, an index key half missing one of its
    /// fields, an empty update, and the like. Nothing was sent.
    #[error("invalid request on {model}: {reason}")]
    InvalidRequest {
        /// The model.
        model: &'static str,
        /// What is wrong, naming the field or index.
        reason: String,
    },

    /// A query named an index the model does not declare.
    #[error("{model} has no index named {name:?}")]
    UnknownIndex {
        /// The model.
        model: &'static str,
        /// The name asked for.
        name: String,
    },

    /// A model value could not be turned into a DynamoDB item.
    #[error("cannot encode {model}: {source}")]
    Encode {
        /// The model.
        model: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_dynamo::Error,
    },

    /// A stored item could not be decoded into the model.
    #[error("cannot decode {model}: {source}")]
    Decode {
        /// The model.
        model: &'static str,
        /// The deserializer's error.
        #[source]
        source: serde_dynamo::Error,
    },

    /// A stored item lacks an attribute dynabao always writes, or holds it with the wrong type.
    #[error("malformed stored item of {model}: {reason}")]
    MalformedItem {
        /// The model.
        model: &'static str,
        /// What is missing or wrong.
        reason: String,
    },

    /// A pagination cursor was edited, issued under a key this `Db` does not hold, expired (see
    /// [`CursorKey::with_lifetime`](crate::CursorKey::with_lifetime)), or issued for another
    /// tenant, model, index or key condition. Nothing was sent.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why it was rejected (safe to show to a client).
        reason: &'static str,
    },

    /// Configuration is missing or invalid.
    #[error("configuration error: {0}")]
    Config(String),

    /// DynamoDB (or the network on the way to it) returned an error dynabao does not map to a
    /// more specific variant.
    #[error("DynamoDB {operation} failed: {source}")]
    Dynamo {
        /// The DynamoDB operation (`PutItem`, `Query`, ...).
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },

    /// The DynamoDB Local test server could not be started or reached (feature `testkit`).
    #[error("test database: {0}")]
    TestKit(String),

    /// A batch left items unprocessed: DynamoDB kept returning them as unprocessed until the
    /// [retry budget](crate::RetryPolicy) ran out, or an error stopped the batch before they were
    /// sent. Every item the batch did not confirm is listed; nothing is dropped silently. Items
    /// not listed were processed. Batched puts and deletes are idempotent, so the listed writes
    /// can be sent again as they are.
    #[error("{operation}: {} item(s) left unprocessed{}", unprocessed.len(), source.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    BatchIncomplete {
        /// `BatchGetItem` or `BatchWriteItem`.
        operation: &'static str,
        /// The items not processed, in the order they were given.
        unprocessed: Vec<Unprocessed>,
        /// The error that stopped the batch early, when one did (`None`: the retry budget for
        /// unprocessed items ran out).
        #[source]
        source: Option<Box<Error>>,
    },

    /// An item is larger than DynamoDB's 400 KB item limit. Rejected before anything was sent.
    #[error("{model} item {key} is {size} bytes, over DynamoDB's item size limit of {limit} bytes (400 KB)")]
    ItemTooLarge {
        /// The model.
        model: &'static str,
        /// The item's stored key (`_pk` / `_sk`), naming the item.
        key: String,
        /// The item's size as DynamoDB counts it (attribute names plus values).
        size: usize,
        /// The limit, 409,600 bytes.
        limit: usize,
    },

    /// A request holds more items than DynamoDB allows in one call (100 for transactions,
    /// counting the unique-constraint items a write adds). Nothing was sent.
    #[error("{operation} takes at most {limit} items; this one has {count}")]
    TooManyItems {
        /// `TransactWriteItems` or `TransactGetItems`.
        operation: &'static str,
        /// The number of items the request would hold.
        count: usize,
        /// DynamoDB's limit.
        limit: usize,
    },

    /// DynamoDB cancelled a transaction. Nothing in it was applied. `reasons` has one entry per
    /// operation of the transaction, in the order they were added; the ones whose
    /// [`code`](CancelReason::code) is not `None` caused the cancellation. See
    /// [`Error::is_condition_failed`], [`Error::transaction_reasons`] and
    /// [`Error::unique_violation`].
    #[error("transaction cancelled: {}", CancelReason::summary(reasons))]
    TransactionCanceled {
        /// Why, per item.
        reasons: Vec<CancelReason>,
    },

    /// A unique constraint is already held by another item of the same tenant. Nothing was
    /// written.
    #[error("{model}: the value of unique constraint {constraint} is taken")]
    UniqueViolation {
        /// The model.
        model: &'static str,
        /// The constraint's name (`#[bao(unique(name = "..."))]`).
        constraint: &'static str,
    },

    /// A write that keeps unique constraints kept losing races with concurrent writes to the
    /// same item until the retry budget ran out. Nothing was written; it is safe to retry.
    #[error("{model}: gave up after {attempts} attempts, the item kept changing concurrently")]
    Contention {
        /// The model.
        model: &'static str,
        /// How many times the read-then-write was attempted.
        attempts: u32,
    },

    /// One error shared by several callers: a batched read made for several `find`s in a
    /// [`Loader`](crate::Loader) scope failed, and each of them gets it. [`Error::code`] and the
    /// `is_*` helpers look through it.
    #[error(transparent)]
    Shared(Arc<Error>),
}

impl Error {
    /// A stable code for the variant, for logs and API responses. Codes never change once
    /// published.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TenantRequired => "tenant_required",
            Error::InvalidTenantId { .. } => "invalid_tenant_id",
            Error::TenantResolver { .. } => "tenant_resolver_failed",
            Error::CrossTenant { .. } => "cross_tenant",
            Error::InvalidKeyValue { .. } => "invalid_key_value",
            Error::AlreadyExists { .. } => "already_exists",
            Error::NotFound { .. } => "not_found",
            Error::VersionConflict { .. } => "version_conflict",
            Error::ConditionFailed { .. } => "condition_failed",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::UnknownIndex { .. } => "unknown_index",
            Error::Encode { .. } => "encode_failed",
            Error::Decode { .. } => "decode_failed",
            Error::MalformedItem { .. } => "malformed_item",
            Error::InvalidCursor { .. } => "invalid_cursor",
            Error::Config(_) => "config",
            Error::Dynamo { .. } => "dynamodb",
            Error::TestKit(_) => "testkit",
            Error::BatchIncomplete { .. } => "batch_incomplete",
            Error::ItemTooLarge { .. } => "item_too_large",
            Error::TooManyItems { .. } => "too_many_items",
            Error::TransactionCanceled { .. } => "transaction_canceled",
            Error::UniqueViolation { .. } => "unique_violation",
            Error::Contention { .. } => "contention",
            Error::Shared(inner) => inner.code(),
        }
    }

    /// The error itself, or the one a [`Error::Shared`] holds.
    pub fn inner(&self) -> &Error {
        match self {
            Error::Shared(inner) => inner.inner(),
            other => other,
        }
    }

    /// Whether a write's condition failed: a user condition, an existence check
    /// ([`AlreadyExists`](Error::AlreadyExists), [`NotFound`](Error::NotFound)) or a version check.
    ///
    /// For [`Error::TransactionCanceled`] it looks inside the reasons: true when any item's
    /// condition failed. A [`UniqueViolation`](Error::UniqueViolation) also counts: it is the
    /// condition on a constraint item that failed.
    pub fn is_conditional_check_failed(&self) -> bool {
        match self.inner() {
            Error::ConditionFailed { .. }
            | Error::AlreadyExists { .. }
            | Error::NotFound { .. }
            | Error::VersionConflict { .. }
            | Error::UniqueViolation { .. } => true,
            Error::TransactionCanceled { reasons } => {
                reasons.iter().any(CancelReason::is_condition_failed)
            }
            _ => false,
        }
    }

    /// Short for [`is_conditional_check_failed`](Error::is_conditional_check_failed).
    pub fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed()
    }

    /// The per-item reasons of a cancelled transaction, in the order the items were added.
    pub fn transaction_reasons(&self) -> Option<&[CancelReason]> {
        match self.inner() {
            Error::TransactionCanceled { reasons } => Some(reasons),
            _ => None,
        }
    }

    /// The unique constraint that was taken: from [`Error::UniqueViolation`], or from the first
    /// constraint claim that failed in a cancelled transaction.
    pub fn unique_violation(&self) -> Option<&'static str> {
        match self.inner() {
            Error::UniqueViolation { constraint, .. } => Some(constraint),
            Error::TransactionCanceled { reasons } => reasons
                .iter()
                .find(|r| r.is_condition_failed() && r.is_unique_claim())
                .and_then(|r| r.constraint),
            _ => None,
        }
    }

    /// Whether DynamoDB throttled the request (after dynabao's own retries ran out), or
    /// cancelled a transaction because of throttling.
    pub fn is_throttled(&self) -> bool {
        match self.inner() {
            Error::Dynamo { source, .. } => {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                source.code().is_some_and(crate::exec::is_throttling_code)
            }
            Error::TransactionCanceled { reasons } => reasons
                .iter()
                .any(|r| r.code().is_some_and(crate::exec::is_throttling_code)),
            _ => false,
        }
    }

    /// Decodes the stored item carried by [`Error::ConditionFailed`] into its model.
    ///
    /// Returns `None` for other variants and when DynamoDB returned no item. DynamoDB returns
    /// the item stored under the key the write addressed, which the key builder scoped to the
    /// write's tenant.
    pub fn current_item<M: crate::Model>(&self) -> Option<Result<M, Error>> {
        match self.inner() {
            Error::ConditionFailed {
                current: Some(item),
                ..
            } => Some(crate::codec::decode_unchecked::<M>((**item).clone())),
            _ => None,
        }
    }

    pub(crate) fn dynamo<E>(operation: &'static str, err: E) -> Self
    where
        aws_sdk_dynamodb::Error: From<E>,
    {
        Error::Dynamo {
            operation,
            source: Box::new(aws_sdk_dynamodb::Error::from(err)),
        }
    }

    pub(crate) fn invalid_request(model: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            model,
            reason: reason.into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
