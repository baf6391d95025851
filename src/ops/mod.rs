//! Operations, one verb per module. Each builds its request from the key builder and expression
//! layers, can render it without sending ([`to_request`](Find::to_request)), and sends it
//! through one place that adds tracing.

pub(crate) mod common;
pub(crate) mod delete;
mod find;
mod find_unique;
mod iterate;
pub(crate) mod put;
pub mod query;
pub(crate) mod update;

pub use delete::Delete;
pub use find::Find;
pub use find_unique::FindUnique;
pub use iterate::Iterate;
pub use put::Put;
pub use query::{Page, Query};
pub use update::{Numeric, Update};
