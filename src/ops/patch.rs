//! [`Patch`]: a partial update of a model, applied by [`Update::patch`].

use super::Update;
use crate::model::Model;

/// A partial update of `M`, applied by [`Update::patch`]. `#[bao(patch)]` derives one,
/// `<Model>Patch`, with an `Option` per field that an update may set.
pub trait Patch<M: Model> {
    /// Adds the changes this patch holds to `update`.
    fn apply<'a>(self, update: Update<'a, M>) -> Update<'a, M>;

    /// Whether the patch changes nothing (an update of nothing is refused when sent).
    fn is_empty(&self) -> bool;
}
