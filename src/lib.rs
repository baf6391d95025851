//! dynabao: DynamoDB single-table design for multi-tenant services (crate docs are written later).

mod codec;
pub mod db;
pub mod error;
mod exec;
pub mod expr;
pub mod key;
pub mod model;
pub mod ops;
mod table;
pub mod tenant;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use codec::TTL_ATTR;
pub use db::{Config, Db, Tenancy};
pub use error::{Error, Item, Result};
pub use expr::Condition;
pub use key::{Key, KeyPart, KeyScope};
pub use model::{Field, Model};
pub use tenant::{TenantContext, TenantId};

/// `#[derive(Model)]`: see the crate docs.
pub use dynabao_derive::Model;
/// `#[derive(KeyPart)]` for unit-variant enums that serialize to strings.
pub use dynabao_derive::KeyPart;

/// Re-exports for generated code. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use aws_sdk_dynamodb::types::AttributeValue;
    pub use chrono::{DateTime, Utc};
    pub use serde_dynamo::from_attribute_value;
    pub use ulid::Ulid;
}
