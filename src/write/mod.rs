//! The write engine: what a verb needs to become one write or one item of a transaction.
//!
//! - [`outcome`]: what a write asserted ([`Expect`](outcome::Expect)) and leaves
//!   ([`Effect`](outcome::Effect)), so a failed condition becomes the most specific error and a
//!   retry after a lost answer can recognise the write's own effect.
//! - [`transaction`]: the [`WriteOp`](transaction::WriteOp) each verb implements, and sending
//!   TransactWriteItems: the reads unique bookkeeping needs, limits, cancellation reasons, the
//!   optimistic retry.
//! - [`unique`]: the items that keep unique constraints and the conditions that move them
//!   race-safely.
//!
//! The verbs ([`ops`](crate::ops)) sit above this module and the public transaction builder
//! ([`transact`](crate::transact)) above them, so changing how a verb renders touches that verb.

pub(crate) mod outcome;
pub(crate) mod transaction;
pub(crate) mod unique;
