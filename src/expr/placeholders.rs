//! Expression attribute names and values (`#n0`, `:v0`) for one request.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// `ExpressionAttributeNames`: placeholder to attribute name.
pub type NameMap = HashMap<String, String>;
/// `ExpressionAttributeValues`: placeholder to value.
pub type ValueMap = HashMap<String, AttributeValue>;

/// Allocates placeholders for one request, so condition, key, filter and update expressions of
/// that request never collide and any attribute name (reserved words included) just works.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    next_value: usize,
}

impl Placeholders {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The placeholder for attribute `name`; the same name always gets the same placeholder.
    pub(crate) fn name(&mut self, name: &str) -> String {
        if let Some(p) = self.names.get(name) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(name.to_owned(), p.clone());
        p
    }

    /// A fresh placeholder for `value`.
    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let p = format!(":v{}", self.next_value);
        self.next_value += 1;
        self.values.insert(p.clone(), value);
        p
    }

    /// The `ExpressionAttributeNames` map (placeholder → name), `None` when empty.
    pub(crate) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(name, p)| (p.clone(), name.clone()))
                .collect()
        })
    }

    /// Both maps, consuming the set.
    pub(crate) fn into_maps(self) -> (Option<NameMap>, Option<ValueMap>) {
        let names = self.names();
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reused_and_values_are_fresh() {
        let mut p = Placeholders::new();
        assert_eq!(p.name("status"), "#n0");
        assert_eq!(p.name("size"), "#n1");
        assert_eq!(p.name("status"), "#n0");
        assert_eq!(p.value(AttributeValue::N("1".into())), ":v0");
        assert_eq!(p.value(AttributeValue::N("1".into())), ":v1");
        let (names, values) = p.into_maps();
        assert_eq!(names.unwrap()["#n1"], "size");
        assert_eq!(values.unwrap().len(), 2);
    }

    #[test]
    fn empty_maps_are_none() {
        let (names, values) = Placeholders::new().into_maps();
        assert!(names.is_none() && values.is_none());
    }
}
