//! Operations, one verb per module. Each builds its request from the key builder and expression
//! layers, can render it without sending ([`to_request`](Find::to_request)), and sends it
//! through one place that adds tracing.
//!
//! # When the tenant is read
//!
//! Every builder and operation future reads the tenant ([`Db::scope_for`](crate::Db::scope_for))
//! when it is first polled (awaited, sent, or asked for its request), never when it is built,
//! and keeps that tenant until it completes. A builder made in one scope and awaited in another
//! runs in the second; a future handed to another task runs in that task's scope, or fails
//! closed if it has none. The [tenancy docs](crate::tenant#where-a-future-can-leave-its-scope)
//! list where a future can leave its scope.

pub(crate) mod delete;
mod find;
mod find_unique;
mod iterate;
mod patch;
pub(crate) mod put;
pub mod query;
pub(crate) mod update;

pub use delete::Delete;
pub use find::Find;
pub use find_unique::FindUnique;
pub use iterate::Iterate;
pub use patch::Patch;
pub use put::Put;
pub use query::{Page, Query};
pub use update::{Numeric, Update};
