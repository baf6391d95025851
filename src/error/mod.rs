//! The one error type of the crate.
//!
//! Every fallible function in dynabao returns [`Error`]. The enum is `#[non_exhaustive]` so new
//! failure modes can be added without breaking callers; match on the variants you handle and keep
//! a wildcard arm. [`Error::code`] gives a stable, machine-readable code for each variant, for logs
//! and API responses.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;

mod batch;
mod transaction;

pub use batch::{Unprocessed, UnprocessedRequest, UnprocessedState};
pub use transaction::CancelReason;

use crate::retry::is_throttling_code;

/// A raw DynamoDB item, as stored.
pub type Item = HashMap<String, AttributeValue>;

/// A boxed error from user code (a resolver) or a lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A foreign error shared by the clones of the [`Error`] that carries it.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in dynabao.
///
/// `Error` is `Clone` (foreign sources sit behind an `Arc`), so when one failure answers
/// several callers, such as a batched read made for several `find`s in a
/// [`Loader`](crate::Loader) scope, each of them gets the variant itself.
#[derive(Debug, Clone, thiserror::Error)]
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
        source: SharedError,
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
        current: Option<Box<CurrentItem>>,
    },

    /// A value the caller passed on from its own input (a client's request) is not acceptable:
    /// a tenant's name or subdomain, a domain, a configuration of the wrong shape, a status
    /// change the tenant's state forbids. Nothing was written. The client's mistake: answered
    /// `400 invalid_input` by [`ErrorResponse`](crate::http::ErrorResponse).
    #[error("invalid input for {model}: {reason}")]
    InvalidInput {
        /// The model (or registry record) the input was for.
        model: &'static str,
        /// What is wrong, safe to show to the client.
        reason: String,
    },

    /// An update or query was built wrong: a key field set, an index key half missing one of its
    /// fields, an empty update, and the like. Nothing was sent. The program's mistake, not the
    /// client's: [`ErrorResponse`](crate::http::ErrorResponse) logs it and answers `500`.
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
        source: Arc<serde_dynamo::Error>,
    },

    /// A model value serializes a top-level attribute whose name is reserved for dynabao
    /// (every name beginning with `_`: `_pk`, `_sk`, `_gsiN_pk`, `_ttl`, `_owner_pk`, ...; see
    /// [`is_reserved_attr`](crate::key::is_reserved_attr)), for example through a
    /// `#[serde(flatten)]` map filled from a request body. Nothing was sent.
    #[error("{model} cannot store attribute {attr:?}: names beginning with `_` are reserved for dynabao")]
    ReservedAttribute {
        /// The model.
        model: &'static str,
        /// The reserved name the value produced.
        attr: String,
    },

    /// A model value serializes the same top-level attribute twice (a `#[serde(flatten)]` map
    /// holding an entry named like a field, which would silently override the field: its
    /// version, a timestamp, ...). Nothing was sent.
    #[error("{model} serializes attribute {attr:?} twice")]
    DuplicateAttribute {
        /// The model.
        model: &'static str,
        /// The name produced twice.
        attr: String,
    },

    /// The write was applied, but the item DynamoDB returned for it (the item as updated, or as
    /// it was before a delete) could not be decoded: a stored `_ttl` that is not epoch seconds,
    /// an attribute another program wrote with the wrong type, ... `source` is that decode
    /// failure, the same one a read of the item reports. The write is not to be retried as if
    /// it had failed.
    #[error("{operation} on {model} was applied, but the item it returned could not be decoded: {source}")]
    WrittenNotDecoded {
        /// The model.
        model: &'static str,
        /// The DynamoDB operation that was applied (`UpdateItem`, `DeleteItem`, ...).
        operation: &'static str,
        /// Why the returned item could not be decoded.
        #[source]
        source: Box<Error>,
    },

    /// Two or more models linked into the program use the same key prefix in one keyspace, so
    /// they would read and overwrite each other's items (see
    /// [`model::registry`](crate::model::registry)). Reported by [`Db::connect`](crate::Db::connect)
    /// and [`Db::create_table`](crate::Db::create_table) before anything is sent.
    #[error("models {} share the key prefix {prefix:?}: each would read and overwrite the others' items; give each model its own prefix", models.join(", "))]
    DuplicatePrefix {
        /// The shared prefix.
        prefix: &'static str,
        /// The models, as `module::Name`.
        models: Vec<String>,
    },

    /// A stored item could not be decoded into the model.
    #[error("cannot decode {model}: {source}")]
    Decode {
        /// The model.
        model: &'static str,
        /// The deserializer's error.
        #[source]
        source: Arc<serde_dynamo::Error>,
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
        source: Arc<aws_sdk_dynamodb::Error>,
    },

    /// The embedded test engine could not be started or reached.
    #[cfg(feature = "testkit")]
    #[error("test database: {0}")]
    TestKit(String),

    /// A batch left items unconfirmed: DynamoDB kept returning them as unprocessed until the
    /// [retry budget](crate::RetryPolicy) ran out, or an error stopped the batch. Every item the
    /// batch did not confirm is listed, with its [state](UnprocessedState): not
    /// done (returned unprocessed, or in a request DynamoDB refused), or outcome unknown (in a
    /// request whose answer was lost, so it may have been written). Nothing is dropped
    /// silently; items not listed were processed. Batched puts and deletes are idempotent, so
    /// the listed writes can be sent again as they are.
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

    /// A write may or may not have been applied: an attempt's answer was lost (a dropped
    /// connection, a timeout, a response cut short, a 5xx) and what followed could not tell
    /// whether DynamoDB applied it. Read the item to find out; retrying the write as it is can
    /// apply it twice unless it is idempotent (see [`retry`](crate::retry#what-a-retry-can-do)).
    ///
    /// `source` is the last thing dynabao met: the transport or service error, or the
    /// conditional failure (such as [`AlreadyExists`](Error::AlreadyExists) or
    /// [`VersionConflict`](Error::VersionConflict)) that a retry met and that may be the
    /// earlier attempt's own effect. [`Error::is_outcome_unknown`] is true for it.
    #[error("{operation} on {model}: the outcome is unknown, the write may or may not have been applied ({source})")]
    OutcomeUnknown {
        /// The DynamoDB operation (`PutItem`, `TransactWriteItems`, ...).
        operation: &'static str,
        /// The model, or `transaction` for a transaction of several models.
        model: &'static str,
        /// The last error met.
        #[source]
        source: Box<Error>,
    },

    /// A provisioning step of a new tenant failed (feature `registry`). The tenant stays
    /// `pending`; the steps that succeeded are recorded, so resuming runs only the rest.
    #[error("provisioning tenant {tenant:?}: step {step:?} failed: {source}")]
    Provisioning {
        /// The tenant being provisioned.
        tenant: String,
        /// The name the step was registered under.
        step: String,
        /// The step's own error.
        #[source]
        source: SharedError,
    },
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
            Error::InvalidInput { .. } => "invalid_input",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::UnknownIndex { .. } => "unknown_index",
            Error::ReservedAttribute { .. } => "reserved_attribute",
            Error::DuplicateAttribute { .. } => "duplicate_attribute",
            Error::WrittenNotDecoded { .. } => "written_not_decoded",
            Error::DuplicatePrefix { .. } => "duplicate_prefix",
            Error::Encode { .. } => "encode_failed",
            Error::Decode { .. } => "decode_failed",
            Error::MalformedItem { .. } => "malformed_item",
            Error::InvalidCursor { .. } => "invalid_cursor",
            Error::Config(_) => "config",
            Error::Dynamo { .. } => "dynamodb",
            #[cfg(feature = "testkit")]
            Error::TestKit(_) => "testkit",
            Error::BatchIncomplete { .. } => "batch_incomplete",
            Error::ItemTooLarge { .. } => "item_too_large",
            Error::TooManyItems { .. } => "too_many_items",
            Error::TransactionCanceled { .. } => "transaction_canceled",
            Error::UniqueViolation { .. } => "unique_violation",
            Error::Contention { .. } => "contention",
            Error::OutcomeUnknown { .. } => "outcome_unknown",
            Error::Provisioning { .. } => "provisioning_failed",
        }
    }

    /// Whether a write's condition failed: a user condition, an existence check
    /// ([`AlreadyExists`](Error::AlreadyExists), [`NotFound`](Error::NotFound)) or a version check.
    ///
    /// For [`Error::TransactionCanceled`] it looks inside the reasons: true when any item's
    /// condition failed. A [`UniqueViolation`](Error::UniqueViolation) also counts: it is the
    /// condition on a constraint item that failed.
    pub fn is_conditional_check_failed(&self) -> bool {
        match self {
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

    /// Whether the error leaves open whether the write was applied: [`Error::OutcomeUnknown`],
    /// or a [`BatchIncomplete`](Error::BatchIncomplete) with an item whose
    /// [state](UnprocessedState) is `OutcomeUnknown`. When it is false for a write's
    /// error, the write was not applied (batches: the listed items were not).
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::OutcomeUnknown { .. } => true,
            Error::BatchIncomplete { unprocessed, .. } => unprocessed
                .iter()
                .any(|u| u.state == UnprocessedState::OutcomeUnknown),
            _ => false,
        }
    }

    /// The error a write whose outcome is unknown met last (see [`Error::OutcomeUnknown`]).
    pub fn unknown_outcome_source(&self) -> Option<&Error> {
        match self {
            Error::OutcomeUnknown { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether this error comes after a write DynamoDB applied ([`Error::WrittenNotDecoded`]):
    /// only reading the result back failed.
    pub fn is_written(&self) -> bool {
        matches!(self, Error::WrittenNotDecoded { .. })
    }

    /// Short for [`is_conditional_check_failed`](Error::is_conditional_check_failed).
    pub fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed()
    }

    /// The per-item reasons of a cancelled transaction, in the order the items were added.
    pub fn transaction_reasons(&self) -> Option<&[CancelReason]> {
        match self {
            Error::TransactionCanceled { reasons } => Some(reasons),
            _ => None,
        }
    }

    /// The unique constraint that was taken: from [`Error::UniqueViolation`], or from the first
    /// constraint claim that failed in a cancelled transaction.
    pub fn unique_violation(&self) -> Option<&'static str> {
        match self {
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
        match self {
            Error::Dynamo { source, .. } => {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                source.code().is_some_and(is_throttling_code)
            }
            Error::TransactionCanceled { reasons } => reasons
                .iter()
                .any(|r| r.code().is_some_and(is_throttling_code)),
            _ => false,
        }
    }

    pub(crate) fn dynamo<E>(operation: &'static str, err: E) -> Self
    where
        aws_sdk_dynamodb::Error: From<E>,
    {
        Error::Dynamo {
            operation,
            source: Arc::new(aws_sdk_dynamodb::Error::from(err)),
        }
    }

    /// `source` wrapped as [`Error::OutcomeUnknown`] (once: an unknown outcome stays one).
    pub(crate) fn outcome_unknown(
        operation: &'static str,
        model: &'static str,
        source: Error,
    ) -> Self {
        match source {
            e @ Error::OutcomeUnknown { .. } => e,
            source => Error::OutcomeUnknown {
                operation,
                model,
                source: Box::new(source),
            },
        }
    }

    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) fn invalid_input(model: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            model,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_request(model: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            model,
            reason: reason.into(),
        }
    }
}

/// The stored item a failed write condition returned ([`Error::ConditionFailed`]), with the
/// model of the write and the key prefix of its tenant scope, so that it is only ever decoded
/// as that model and after the tenant check ([`Error::current_item`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentItem {
    pub(crate) item: Item,
    pub(crate) model: &'static str,
    pub(crate) prefix: &'static str,
    /// `[t]#prefix#` (or `prefix#`): what both stored keys must start with.
    pub(crate) key_prefix: String,
}

impl CurrentItem {
    /// The raw stored attributes, keys included, as DynamoDB returned them (not checked: use
    /// [`Error::current_item`] to read the item as a model).
    pub fn raw(&self) -> &Item {
        &self.item
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
