//! Pieces every write shares: mapping DynamoDB's conditional-check failures to typed errors.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Item};
use crate::model::Model;

/// What a write asserted, to explain a failed condition.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// The item must not exist (create).
    Absent,
    /// The item must exist (update, replace, delete), optionally at a version.
    Present { version: Option<u64> },
    /// Nothing about existence (put with a user condition).
    Anything,
}

/// Turns a ConditionalCheckFailed (with the stored item, which writes request with
/// `ReturnValuesOnConditionCheckFailure::AllOld`) into the most specific error.
pub(crate) fn condition_failed<M: Model>(expect: Expect, stored: Option<Item>) -> Error {
    let model = M::SCHEMA.name;
    match (expect, stored) {
        (Expect::Absent, Some(_)) => Error::AlreadyExists { model },
        (Expect::Present { .. }, None) => Error::NotFound { model },
        (
            Expect::Present {
                version: Some(expected),
            },
            Some(item),
        ) => {
            let actual = stored_version::<M>(&item);
            if actual != Some(expected) {
                Error::VersionConflict {
                    model,
                    expected,
                    actual,
                }
            } else {
                Error::ConditionFailed {
                    model,
                    current: Some(Box::new(item)),
                }
            }
        }
        (_, stored) => Error::ConditionFailed {
            model,
            current: stored.map(Box::new),
        },
    }
}

/// The version attribute of a stored item.
pub(crate) fn stored_version<M: Model>(item: &Item) -> Option<u64> {
    let field = M::SCHEMA.version?;
    match item.get(field.attr) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// A stored item map as returned by the SDK (`HashMap`), when present and non-empty.
pub(crate) fn non_empty(item: Option<Item>) -> Option<Item> {
    item.filter(|i| !i.is_empty())
}
