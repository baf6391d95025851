//! Pieces every write shares: mapping DynamoDB's conditional-check failures to typed errors,
//! and the item size limit.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{CurrentItem, Error, Item};
use crate::key::KeyScope;
use crate::model::Schema;

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
/// `ReturnValuesOnConditionCheckFailure::AllOld`) into the most specific error. `scope` is the
/// write's: the stored item is only decoded after a check against it.
pub(crate) fn condition_failed_schema(
    schema: &'static Schema,
    scope: &KeyScope,
    expect: Expect,
    stored: Option<Item>,
) -> Error {
    condition_failed_with(schema, scope.model_prefix(schema.prefix), expect, stored)
}

/// [`condition_failed_schema`] for a write whose scope is known by the prefix its keys carry
/// (`[t]#prefix#`), as a transaction's cancellation reason records it.
pub(crate) fn condition_failed_with(
    schema: &'static Schema,
    key_prefix: String,
    expect: Expect,
    stored: Option<Item>,
) -> Error {
    let current = |item: Item| Box::new(CurrentItem::new(schema, key_prefix.clone(), item));
    let model = schema.name;
    match (expect, stored) {
        (Expect::Absent, Some(_)) => Error::AlreadyExists { model },
        (Expect::Present { .. }, None) => Error::NotFound { model },
        (
            Expect::Present {
                version: Some(expected),
            },
            Some(item),
        ) => {
            let actual = stored_version_schema(schema, &item);
            if actual != Some(expected) {
                Error::VersionConflict {
                    model,
                    expected,
                    actual,
                }
            } else {
                Error::ConditionFailed {
                    model,
                    current: Some(current(item)),
                }
            }
        }
        (_, stored) => Error::ConditionFailed {
            model,
            current: stored.map(current),
        },
    }
}

/// The attribute an update with an [idempotency key](crate::ops::Update::idempotency_key)
/// records its key in.
pub(crate) const IDEMPOTENCY_ATTR: &str = "_idem";

/// What a write leaves stored, so that a retry which meets a failed condition can recognise
/// the write's own effect (an earlier attempt that was applied but whose answer was lost).
#[derive(Debug, Clone, Default)]
pub(crate) struct Effect {
    /// The whole item a put writes: the stored item must equal it.
    pub(crate) item: Option<Item>,
    /// Attributes an update sets (`Some`) or removes (`None`).
    pub(crate) attrs: Vec<(String, Option<AttributeValue>)>,
    /// Whether the update also changes attributes by an amount (`ADD`, `DELETE` from a set),
    /// which the stored item alone cannot attribute to this write.
    pub(crate) relative: bool,
    /// Whether `attrs` hold something only this write sets (a fresh `updated_at`, the bumped
    /// version of an `if_version` write), which makes `relative` changes attributable.
    pub(crate) distinctive: bool,
    /// The write's idempotency key: the stored item carries it if and only if the write was
    /// applied (until a later keyed write replaces it).
    pub(crate) key: Option<String>,
    /// The write removes the item (a delete): its effect is that no item is stored.
    pub(crate) gone: bool,
}

impl Effect {
    /// Whether `stored` (the item as DynamoDB returned it with a failed condition) is what this
    /// write leaves.
    pub(crate) fn shown_by(&self, stored: Option<&Item>) -> bool {
        if self.gone {
            return stored.is_none();
        }
        let Some(stored) = stored else {
            return false;
        };
        if let Some(key) = &self.key {
            return matches!(stored.get(IDEMPOTENCY_ATTR), Some(AttributeValue::S(k)) if k == key);
        }
        if let Some(item) = &self.item {
            return item.len() == stored.len()
                && item
                    .iter()
                    .all(|(k, v)| stored.get(k).is_some_and(|s| same_value(v, s)));
        }
        if self.attrs.is_empty() || (self.relative && !self.distinctive) {
            return false;
        }
        self.attrs.iter().all(|(attr, want)| {
            match (
                want,
                stored
                    .get(attr)
                    .filter(|v| !matches!(v, AttributeValue::Null(true))),
            ) {
                (None, None) => true,
                (Some(w), Some(s)) => same_value(w, s),
                _ => false,
            }
        })
    }
}

/// Whether two attribute values are equal as DynamoDB stores them: numbers by value (DynamoDB
/// normalises `1.50` to `1.5`), sets in any order.
pub(crate) fn same_value(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as A;
    fn num(a: &str, b: &str) -> bool {
        a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
    }
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    match (a, b) {
        (A::N(x), A::N(y)) => num(x, y),
        (A::Ss(x), A::Ss(y)) => sorted(x) == sorted(y),
        (A::Ns(x), A::Ns(y)) => {
            x.len() == y.len() && {
                let (x, y) = (sorted(x), sorted(y));
                x.iter().zip(&y).all(|(a, b)| num(a, b))
                    || x.iter().all(|a| y.iter().any(|b| num(a, b)))
            }
        }
        (A::Bs(x), A::Bs(y)) => {
            let key = |v: &[aws_sdk_dynamodb::primitives::Blob]| {
                let mut v: Vec<Vec<u8>> = v.iter().map(|b| b.as_ref().to_vec()).collect();
                v.sort();
                v
            };
            key(x) == key(y)
        }
        (A::L(x), A::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (A::M(x), A::M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// How a single write that failed ends, once the outcome of earlier attempts is weighed:
///
/// - a failed condition after an attempt whose outcome was unknown is the write's own success
///   when the stored item shows the write's [`Effect`] (`Ok(stored)`), else
///   [`Error::OutcomeUnknown`] around the error the condition gives;
/// - a failed condition that shows the write's idempotency key is its own success too, with
///   or without an unknown attempt before (a caller's retry with the same key);
/// - any other error is [`Error::OutcomeUnknown`] when an attempt may have been applied, and
///   the error itself when none was.
pub(crate) enum Settled {
    /// The write was applied; the stored item as DynamoDB returned it.
    Applied(Option<Item>),
    /// The error to return.
    Failed(Error),
}

/// Settles a conditional failure; see [`Settled`].
pub(crate) fn settle_condition(
    operation: &'static str,
    schema: &'static Schema,
    scope: &KeyScope,
    expect: Expect,
    stored: Option<Item>,
    effect: &Effect,
    ambiguous_before: bool,
) -> Settled {
    let keyed = effect.key.is_some() && effect.shown_by(stored.as_ref());
    if keyed || (ambiguous_before && effect.shown_by(stored.as_ref())) {
        return Settled::Applied(stored);
    }
    let err = condition_failed_schema(schema, scope, expect, stored);
    if ambiguous_before {
        Settled::Failed(Error::outcome_unknown(operation, schema.name, err))
    } else {
        Settled::Failed(err)
    }
}

/// Settles any other error: [`Error::OutcomeUnknown`] when `unknown`.
pub(crate) fn settle_other(
    operation: &'static str,
    schema: &'static Schema,
    err: Error,
    unknown: bool,
) -> Error {
    if unknown {
        Error::outcome_unknown(operation, schema.name, err)
    } else {
        err
    }
}

/// The version attribute of a stored item.
fn stored_version_schema(schema: &Schema, item: &Item) -> Option<u64> {
    let field = schema.version?;
    match item.get(field.attr) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// A stored item map as returned by the SDK (`HashMap`), when present and non-empty.
pub(crate) fn non_empty(item: Option<Item>) -> Option<Item> {
    item.filter(|i| !i.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    #[test]
    fn values_compare_as_dynamodb_stores_them() {
        assert!(same_value(&n("1.50"), &n("1.5")));
        assert!(!same_value(&n("2"), &n("3")));
        assert!(same_value(
            &AttributeValue::Ss(vec!["b".into(), "a".into()]),
            &AttributeValue::Ss(vec!["a".into(), "b".into()])
        ));
        assert!(same_value(
            &AttributeValue::Ns(vec!["1.0".into(), "2".into()]),
            &AttributeValue::Ns(vec!["2".into(), "1".into()])
        ));
        let m = |v| AttributeValue::M(Item::from([("k".to_string(), v)]));
        assert!(same_value(&m(n("10")), &m(n("10.0"))));
        assert!(!same_value(&m(n("10")), &m(s("10"))));
        assert!(same_value(
            &AttributeValue::L(vec![n("1")]),
            &AttributeValue::L(vec![n("1.0")])
        ));
    }

    #[test]
    fn effects_recognise_only_the_writes_own_result() {
        let item = Item::from([("a".to_string(), s("x")), ("v".to_string(), n("2"))]);
        let put = Effect {
            item: Some(item.clone()),
            ..Effect::default()
        };
        assert!(put.shown_by(Some(&item)));
        let mut other = item.clone();
        other.insert("a".into(), s("y"));
        assert!(!put.shown_by(Some(&other)));
        assert!(!put.shown_by(None));
        let mut extra = item.clone();
        extra.insert("b".into(), s("z"));
        assert!(!put.shown_by(Some(&extra)));

        let update = Effect {
            attrs: vec![("a".into(), Some(s("x"))), ("gone".into(), None)],
            ..Effect::default()
        };
        assert!(update.shown_by(Some(&item)));
        assert!(!update.shown_by(Some(&other)));
        // A counter change alone cannot be attributed...
        let counter = Effect {
            attrs: vec![("a".into(), Some(s("x")))],
            relative: true,
            ..Effect::default()
        };
        assert!(!counter.shown_by(Some(&item)));
        // ...unless something only this write sets is there too.
        let counter = Effect {
            distinctive: true,
            ..counter
        };
        assert!(counter.shown_by(Some(&item)));
        // An idempotency key decides alone.
        let keyed = Effect {
            key: Some("k1".into()),
            ..Effect::default()
        };
        let mut with_key = item.clone();
        with_key.insert(IDEMPOTENCY_ATTR.into(), s("k1"));
        assert!(keyed.shown_by(Some(&with_key)));
        with_key.insert(IDEMPOTENCY_ATTR.into(), s("k2"));
        assert!(!keyed.shown_by(Some(&with_key)));
        assert!(!Effect::default().shown_by(Some(&item)));
    }

    #[test]
    fn conditional_failures_settle_by_what_came_before() {
        static SCHEMA: Schema = Schema {
            name: "Doc",
            prefix: "doc",
            global: false,
            pk: &[],
            sk: &[],
            indexes: &[],
            fields: &[],
            created_at: None,
            updated_at: None,
            version: None,
            ttl: None,
            iteration: None,
        };
        let item = Item::from([("a".to_string(), s("x"))]);
        let effect = Effect {
            item: Some(item.clone()),
            ..Effect::default()
        };
        // No unknown attempt before: the failure is definite.
        match settle_condition(
            "PutItem",
            &SCHEMA,
            &KeyScope::Global,
            Expect::Absent,
            Some(item.clone()),
            &effect,
            false,
        ) {
            Settled::Failed(Error::AlreadyExists { .. }) => {}
            _ => panic!("expected AlreadyExists"),
        }
        // After one: its own item is success, another item is unknown.
        assert!(matches!(
            settle_condition(
                "PutItem",
                &SCHEMA,
                &KeyScope::Global,
                Expect::Absent,
                Some(item.clone()),
                &effect,
                true
            ),
            Settled::Applied(Some(_))
        ));
        let other = Item::from([("a".to_string(), s("y"))]);
        match settle_condition(
            "PutItem",
            &SCHEMA,
            &KeyScope::Global,
            Expect::Absent,
            Some(other),
            &effect,
            true,
        ) {
            Settled::Failed(e) => {
                assert!(e.is_outcome_unknown());
                assert!(matches!(
                    e.unknown_outcome_source(),
                    Some(Error::AlreadyExists { .. })
                ));
            }
            Settled::Applied(_) => panic!("another item is not this write's effect"),
        }
        assert!(
            !settle_other("PutItem", &SCHEMA, Error::Config("x".into()), false)
                .is_outcome_unknown()
        );
        assert!(
            settle_other("PutItem", &SCHEMA, Error::Config("x".into()), true).is_outcome_unknown()
        );
    }
}
