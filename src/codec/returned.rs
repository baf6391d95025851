//! Items a failed write returned (carried by [`Error::ConditionFailed`] and
//! [`CancelReason`]), decoded only as the model the write was for and only after the same tenant
//! check as every read ([invariant 5](crate#invariants)).
//!
//! The error types live at the bottom of the crate and know nothing of models; the decoding
//! that needs [`Model`] is written here, above both.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{CancelReason, CurrentItem, Error, Item};
use crate::key::{PK_ATTR, SK_ATTR};
use crate::model::{Model, Schema};

impl CurrentItem {
    /// The item `schema`'s write met, kept with the prefix its keys must carry (`[t]#prefix#`,
    /// from the write's scope).
    pub(crate) fn new(schema: &'static Schema, key_prefix: String, item: Item) -> Self {
        CurrentItem {
            item,
            model: schema.name,
            prefix: schema.prefix,
            key_prefix,
        }
    }

    /// The item as `M`: `None` unless `M` is the model the write was for; checked like a read.
    pub fn decode<M: Model>(&self) -> Option<Result<M, Error>> {
        decode_returned::<M>(self.model, self.prefix, &self.key_prefix, &self.item)
    }
}

impl Error {
    /// Decodes the stored item carried by [`Error::ConditionFailed`] into its model.
    ///
    /// Returns `None` for other variants, when DynamoDB returned no item, and when `M` is not
    /// the model the write was for. The item goes through the same check as every read: its
    /// keys must carry the write's tenant and `M`'s prefix ([`Error::CrossTenant`] otherwise).
    pub fn current_item<M: Model>(&self) -> Option<Result<M, Error>> {
        match self {
            Error::ConditionFailed {
                current: Some(current),
                ..
            } => current.decode::<M>(),
            _ => None,
        }
    }
}

impl CancelReason {
    /// Decodes the stored item of a failed condition into its model.
    ///
    /// `None` for a constraint item, when DynamoDB returned no item, and when `M` is not the
    /// operation's model. The item is checked like every read: its keys must carry the
    /// operation's tenant and `M`'s prefix ([`Error::CrossTenant`] otherwise).
    pub fn current_item<M: Model>(&self) -> Option<Result<M, Error>> {
        if self.constraint.is_some() {
            return None;
        }
        let item = self.item.as_ref()?;
        // No scope recorded (a read's reason): nothing to check the item against, not decoded.
        let key_prefix = self.key_prefix.as_deref()?;
        decode_returned::<M>(self.model, self.prefix, key_prefix, item)
    }
}

/// Decodes an item that a write's failed condition returned, for a caller that names the model
/// to decode it as: only as the model the write was for (`None` for any other), and only when
/// both stored keys start with `key_prefix`, the write's `[t]#prefix#`.
fn decode_returned<M: Model>(
    model: &str,
    prefix: &str,
    key_prefix: &str,
    item: &Item,
) -> Option<Result<M, Error>> {
    if M::SCHEMA.name != model || M::SCHEMA.prefix != prefix {
        return None;
    }
    let carries = |attr: &str| matches!(item.get(attr), Some(AttributeValue::S(s)) if s.starts_with(key_prefix));
    if !(carries(PK_ATTR) && carries(SK_ATTR)) {
        return Some(Err(Error::CrossTenant {
            model: M::SCHEMA.name,
            expected: key_prefix.to_owned(),
        }));
    }
    Some(super::decode_fields::<M, M>(item.clone()))
}
