//! What a batch reports about the items it did not process.

use super::Item;

/// One item a batch did not process, carried by [`Error::BatchIncomplete`](super::Error::BatchIncomplete).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Unprocessed {
    /// Its position in the batch: the index of the key in the keys given to
    /// [`Db::batch_find`](crate::Db::batch_find), or the order in which the write was added to a [`BatchWrite`](crate::batch::BatchWrite).
    pub position: usize,
    /// The model.
    pub model: &'static str,
    /// What was not done.
    pub request: UnprocessedRequest,
    /// Whether it was certainly not done, or may have been.
    pub state: UnprocessedState,
}

/// What became of an [`Unprocessed`] item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnprocessedState {
    /// DynamoDB returned it as unprocessed (`UnprocessedKeys` / `UnprocessedItems`) until the
    /// retry budget ran out: it was not read or written.
    ReturnedUnprocessed,
    /// An error stopped the batch, and DynamoDB refused the request carrying it as a whole
    /// (throttling, validation) or it was never sent: it was not read or written.
    NotApplied,
    /// It was in a request whose answer was lost (a dropped connection, a timeout, a 5xx): it
    /// may have been written. Batched puts and deletes are idempotent, so sending it again
    /// is safe; read it to find out.
    OutcomeUnknown,
}

/// What an [`Unprocessed`] item was to do, with its stored key or item.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UnprocessedRequest {
    /// A read of the item at this stored key.
    Get {
        /// `_pk` and `_sk`.
        key: Item,
    },
    /// A put of this stored item (keys included).
    Put {
        /// The item as it would have been stored.
        item: Item,
    },
    /// A delete of the item at this stored key.
    Delete {
        /// `_pk` and `_sk`.
        key: Item,
    },
}
