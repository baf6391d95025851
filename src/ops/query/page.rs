//! One page of query results.

/// One page of query results and the cursor to the next page.
///
/// It serializes as `{"items": [...], "cursor": "..." | null}`, the shape a paged JSON API
/// answers with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    /// The items of this page, in key order.
    pub items: Vec<T>,
    cursor: Option<String>,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, cursor: Option<String>) -> Self {
        Page { items, cursor }
    }

    /// The page with each item mapped (to the JSON view of a model, say), the cursor kept.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            cursor: self.cursor,
        }
    }

    /// The opaque, URL-safe cursor to the next page, `None` after the last page. Pass it to
    /// [`Query::cursor`](super::Query::cursor) under the same tenant and query.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether there may be more items after this page.
    pub fn has_more(&self) -> bool {
        self.cursor.is_some()
    }

    /// The items and the cursor.
    pub fn into_parts(self) -> (Vec<T>, Option<String>) {
        (self.items, self.cursor)
    }

    /// The items.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}
