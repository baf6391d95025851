//! Expressions: typed conditions and the placeholders every request uses.

mod condition;
mod placeholders;

pub use condition::{AttrPath, CmpOp, Condition, Size};
pub(crate) use placeholders::Placeholders;

#[cfg(test)]
mod tests;
