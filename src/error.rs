//! The one error type of the crate.
//!
//! Every fallible function in dynabao returns [`Error`]. The enum is `#[non_exhaustive]` so new
//! failure modes can be added without breaking callers; match on the variants you handle and keep
//! a wildcard arm. [`Error::code`] gives a stable, machine-readable code for each variant, for logs
//! and API responses.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

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
            Error::Encode { .. } => "encode_failed",
            Error::Decode { .. } => "decode_failed",
            Error::MalformedItem { .. } => "malformed_item",
            Error::Config(_) => "config",
            Error::Dynamo { .. } => "dynamodb",
            Error::TestKit(_) => "testkit",
        }
    }

    /// Whether a write's condition failed: a user condition, an existence check
    /// ([`AlreadyExists`](Error::AlreadyExists), [`NotFound`](Error::NotFound)) or a version check.
    pub fn is_conditional_check_failed(&self) -> bool {
        matches!(
            self,
            Error::ConditionFailed { .. }
                | Error::AlreadyExists { .. }
                | Error::NotFound { .. }
                | Error::VersionConflict { .. }
        )
    }

    /// Decodes the stored item carried by [`Error::ConditionFailed`] into its model.
    ///
    /// Returns `None` for other variants and when DynamoDB returned no item. DynamoDB returns
    /// the item stored under the key the write addressed, which the key builder scoped to the
    /// write's tenant.
    pub fn current_item<M: crate::Model>(&self) -> Option<Result<M, Error>> {
        match self {
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
