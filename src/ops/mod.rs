//! Operations, one verb per module. Each builds its request from the key builder and expression
//! layers, can render it without sending ([`to_request`](Find::to_request)), and sends it
//! through one place that adds tracing.

mod common;
mod delete;
mod find;
mod put;
mod query;
mod update;

pub use delete::Delete;
pub use find::Find;
pub use put::Put;
pub use query::{Page, Query};
pub use update::{Numeric, Update};
