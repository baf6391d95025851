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

// Here rather than in `update`, so that `update` does not import `patch`.
impl<'a, M: Model> Update<'a, M> {
    /// Applies a patch: every field it holds is set (or removed), as by [`set`](Update::set)
    /// and [`remove`](Update::remove). `#[bao(patch)]` generates `<Model>Patch`, which
    /// deserializes from a `PATCH` body.
    pub fn patch(self, patch: impl Patch<M>) -> Self {
        patch.apply(self)
    }
}
