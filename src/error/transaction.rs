//! Why the items of a cancelled transaction failed.

use super::Item;
use crate::retry::is_throttling_code;

/// Why one item of a cancelled transaction failed (or `None`: it did not), carried by
/// [`Error::TransactionCanceled`](super::Error::TransactionCanceled).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CancelReason {
    /// The position of the operation the item belongs to, in the order operations were added
    /// (for [`TransactGet`](crate::transact::TransactGet), the order keys were added).
    pub position: usize,
    /// The operation's model.
    pub model: &'static str,
    /// The unique constraint, when the item is one of the constraint items the operation
    /// claims or releases; `None` for the operation's own item.
    pub constraint: Option<&'static str>,
    pub(crate) claim: bool,
    /// The operation's model prefix, and the prefix its keys carry in the scope it wrote in
    /// (`[t]#prefix#`), to check `item` against before it is decoded.
    pub(crate) prefix: &'static str,
    pub(crate) key_prefix: Option<String>,
    /// DynamoDB's code: `None`, `ConditionalCheckFailed`, `TransactionConflict`,
    /// `ThrottlingError`, `ProvisionedThroughputExceeded`, `ItemCollectionSizeLimitExceeded`,
    /// `ValidationError`.
    pub code: Option<String>,
    /// DynamoDB's message.
    pub message: Option<String>,
    /// The stored item, when a condition failed and DynamoDB returned it.
    pub item: Option<Item>,
}

impl CancelReason {
    /// DynamoDB's code for this item.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether this item caused the cancellation (its code is not `None`).
    pub fn is_failure(&self) -> bool {
        self.code().is_some_and(|c| c != "None")
    }

    /// Whether this item's condition failed.
    pub fn is_condition_failed(&self) -> bool {
        self.code() == Some("ConditionalCheckFailed")
    }

    /// Whether this item conflicted with another transaction in progress.
    pub fn is_conflict(&self) -> bool {
        self.code() == Some("TransactionConflict")
    }

    /// Whether this item was throttled.
    pub fn is_throttled(&self) -> bool {
        self.code().is_some_and(is_throttling_code)
    }

    /// Whether this item is a claim of a unique constraint's value (which fails when another
    /// item holds the value).
    pub fn is_unique_claim(&self) -> bool {
        self.claim
    }

    /// A one-line summary of the failures, for the error message.
    pub(crate) fn summary(reasons: &[CancelReason]) -> String {
        let failed: Vec<String> = reasons
            .iter()
            .filter(|r| r.is_failure())
            .map(|r| {
                format!(
                    "#{} {}{}: {}",
                    r.position,
                    r.model,
                    r.constraint
                        .map(|c| format!(" (unique {c})"))
                        .unwrap_or_default(),
                    r.code().unwrap_or("?")
                )
            })
            .collect();
        if failed.is_empty() {
            "no reason given".to_owned()
        } else {
            failed.join(", ")
        }
    }
}
