//! Conditions on the sort key of a query, typed by the sort key's Rust type.
//!
//! `User::query_by_status(&db, &Status::Active)` returns a query whose sort key type is the type
//! of `created_at`, so `.sk(between(a, b))` only accepts timestamps; a value of another type is a
//! compile error. Values go through the same order-preserving encoding as writes.

use crate::expr::CmpOp;
use crate::key::{KeyPart, KeyPrefix, KeyValue, KeyValueBuilder};

/// A condition on a sort key whose values are `V`. Build it with [`eq`], [`lt`], [`le`], [`gt`],
/// [`ge`], [`between`] or [`begins_with`].
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey<V> {
    /// `sk = v`
    Eq(V),
    /// `sk < v`
    Lt(V),
    /// `sk <= v`
    Le(V),
    /// `sk > v`
    Gt(V),
    /// `sk >= v`
    Ge(V),
    /// `lo <= sk <= hi` (inclusive at both ends).
    Between(V, V),
    /// The sort key starts with the encoding of `v` (meaningful for text).
    BeginsWith(V),
}

impl<V> SortKey<V> {
    /// Converts the values, for example `&str` into `String`.
    pub fn map<W>(self, f: impl Fn(V) -> W) -> SortKey<W> {
        match self {
            SortKey::Eq(v) => SortKey::Eq(f(v)),
            SortKey::Lt(v) => SortKey::Lt(f(v)),
            SortKey::Le(v) => SortKey::Le(f(v)),
            SortKey::Gt(v) => SortKey::Gt(f(v)),
            SortKey::Ge(v) => SortKey::Ge(f(v)),
            SortKey::Between(a, b) => SortKey::Between(f(a), f(b)),
            SortKey::BeginsWith(v) => SortKey::BeginsWith(f(v)),
        }
    }
}

/// `sk = v`
pub fn eq<V>(v: V) -> SortKey<V> {
    SortKey::Eq(v)
}
/// `sk < v`
pub fn lt<V>(v: V) -> SortKey<V> {
    SortKey::Lt(v)
}
/// `sk <= v`
pub fn le<V>(v: V) -> SortKey<V> {
    SortKey::Le(v)
}
/// `sk > v`
pub fn gt<V>(v: V) -> SortKey<V> {
    SortKey::Gt(v)
}
/// `sk >= v`
pub fn ge<V>(v: V) -> SortKey<V> {
    SortKey::Ge(v)
}
/// `lo <= sk <= hi`, inclusive at both ends.
pub fn between<V>(lo: V, hi: V) -> SortKey<V> {
    SortKey::Between(lo, hi)
}
/// The sort key starts with `prefix`.
pub fn begins_with<V>(prefix: V) -> SortKey<V> {
    SortKey::BeginsWith(prefix)
}

/// A sort-key condition with its values encoded (no tenant or model prefix yet).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EncodedSortKey {
    Cmp(CmpOp, KeyValue),
    Between(KeyValue, KeyValue),
    /// A prefix: the raw encoding, without the separator a finished value would need.
    BeginsWith(KeyValue),
}

fn encode_one<V: KeyPart>(v: &V) -> Result<KeyValue, String> {
    let mut b = KeyValueBuilder::new();
    b.push(v).map_err(|e| e.0)?;
    Ok(b.finish())
}

impl<V: KeyPart> SortKey<V> {
    pub(crate) fn encode(&self) -> Result<EncodedSortKey, String> {
        Ok(match self {
            SortKey::Eq(v) => EncodedSortKey::Cmp(CmpOp::Eq, encode_one(v)?),
            SortKey::Lt(v) => EncodedSortKey::Cmp(CmpOp::Lt, encode_one(v)?),
            SortKey::Le(v) => EncodedSortKey::Cmp(CmpOp::Le, encode_one(v)?),
            SortKey::Gt(v) => EncodedSortKey::Cmp(CmpOp::Gt, encode_one(v)?),
            SortKey::Ge(v) => EncodedSortKey::Cmp(CmpOp::Ge, encode_one(v)?),
            SortKey::Between(a, b) => {
                let (a, b) = (encode_one(a)?, encode_one(b)?);
                if a > b {
                    return Err("between needs lo <= hi".into());
                }
                EncodedSortKey::Between(a, b)
            }
            SortKey::BeginsWith(v) => {
                let mut b = KeyValueBuilder::new();
                b.push(v).map_err(|e| e.0)?;
                EncodedSortKey::BeginsWith(b.finish_raw())
            }
        })
    }
}

impl<V: KeyPart> SortKey<V> {
    /// The condition on the leading parts of a composite sort key, whose values `V` are: see
    /// [`Query::sk_prefix`](super::Query::sk_prefix).
    pub(crate) fn encode_prefix(&self) -> Result<EncodedSortKey, String> {
        let prefix = |v: &V| -> Result<KeyPrefix, String> {
            let mut b = KeyValueBuilder::new();
            b.push(v).map_err(|e| e.0)?;
            Ok(b.finish_prefix())
        };
        Ok(match self {
            SortKey::Eq(v) => EncodedSortKey::BeginsWith(prefix(v)?.members()),
            SortKey::Lt(v) => EncodedSortKey::Cmp(CmpOp::Lt, prefix(v)?.lower()),
            SortKey::Le(v) => EncodedSortKey::Cmp(CmpOp::Lt, prefix(v)?.upper()),
            SortKey::Gt(v) => EncodedSortKey::Cmp(CmpOp::Ge, prefix(v)?.upper()),
            SortKey::Ge(v) => EncodedSortKey::Cmp(CmpOp::Ge, prefix(v)?.lower()),
            SortKey::Between(a, b) => {
                let (lo, hi) = (prefix(a)?.lower(), prefix(b)?.upper());
                if lo > hi {
                    return Err("between needs lo <= hi".into());
                }
                EncodedSortKey::Between(lo, hi)
            }
            SortKey::BeginsWith(v) => {
                let mut b = KeyValueBuilder::new();
                b.push(v).map_err(|e| e.0)?;
                EncodedSortKey::BeginsWith(b.finish_raw())
            }
        })
    }
}

mod sealed {
    pub trait Sealed<P> {}
}

/// `Self`, a composite sort key (a tuple), starts with parts of type `P`: its first part
/// (`A` of `(A, B)`), or its first parts as a tuple (`(A, B)` of `(A, B, C)`). Implemented by
/// dynabao for the tuples composite keys are; see
/// [`Query::sk_prefix`](super::Query::sk_prefix).
pub trait SortKeyPrefix<P>: sealed::Sealed<P> {}

macro_rules! prefixes {
    ($( ($($t:ident),+) : $p:ty ;)*) => {$(
        impl<$($t: KeyPart),+> sealed::Sealed<$p> for ($($t,)+) {}
        impl<$($t: KeyPart),+> SortKeyPrefix<$p> for ($($t,)+) {}
    )*};
}
prefixes! {
    (A, B): A;
    (A, B, C): A;
    (A, B, C): (A, B);
    (A, B, C, D): A;
    (A, B, C, D): (A, B);
    (A, B, C, D): (A, B, C);
}

/// A sort key type for queries over a key with no sort key fields: it has no values, so no
/// sort-key condition can be written for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSortKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whether the stored sort key value `stored` satisfies `condition`, as DynamoDB decides it
    /// (byte-wise string comparison).
    fn holds(condition: &EncodedSortKey, stored: &str) -> bool {
        match condition {
            EncodedSortKey::Cmp(op, v) => {
                let v = v.as_encoded();
                match op {
                    CmpOp::Eq => stored == v,
                    CmpOp::Lt => stored < v,
                    CmpOp::Le => stored <= v,
                    CmpOp::Gt => stored > v,
                    CmpOp::Ge => stored >= v,
                    _ => false,
                }
            }
            EncodedSortKey::Between(lo, hi) => {
                lo.as_encoded() <= stored && stored <= hi.as_encoded()
            }
            EncodedSortKey::BeginsWith(p) => stored.starts_with(p.as_encoded()),
        }
    }

    fn key<A: KeyPart, B: KeyPart>(a: &A, b: &B) -> String {
        let mut k = KeyValueBuilder::new();
        k.push(a).expect("encodes");
        k.push(b).expect("encodes");
        k.finish().as_encoded().to_owned()
    }

    /// Every condition on the first part selects exactly the keys whose first part satisfies it.
    fn check<A: KeyPart + PartialOrd + Clone + std::fmt::Debug + 'static, B: KeyPart>(
        items: &[(A, B)],
        x: A,
        y: A,
    ) -> Result<(), TestCaseError> {
        let (lo, hi) = if x <= y {
            (x.clone(), y.clone())
        } else {
            (y.clone(), x.clone())
        };
        type Pred<A> = Box<dyn Fn(&A) -> bool>;
        let cases: Vec<(SortKey<A>, Pred<A>)> = vec![
            (eq(x.clone()), {
                let x = x.clone();
                Box::new(move |a: &A| *a == x)
            }),
            (lt(x.clone()), {
                let x = x.clone();
                Box::new(move |a: &A| *a < x)
            }),
            (le(x.clone()), {
                let x = x.clone();
                Box::new(move |a: &A| *a <= x)
            }),
            (gt(x.clone()), {
                let x = x.clone();
                Box::new(move |a: &A| *a > x)
            }),
            (ge(x.clone()), {
                let x = x.clone();
                Box::new(move |a: &A| *a >= x)
            }),
            (
                between(lo.clone(), hi.clone()),
                Box::new(move |a: &A| lo <= *a && *a <= hi),
            ),
        ];
        for (condition, want) in cases {
            let encoded = condition.encode_prefix().expect("encodes");
            for (a, b) in items {
                prop_assert_eq!(
                    holds(&encoded, &key(a, b)),
                    want(a),
                    "{:?} on {:?}",
                    condition,
                    a
                );
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn prefix_conditions_on_integers_are_exact(
            items in proptest::collection::vec((-50i64..50, any::<u16>()), 1..40),
            x in -60i64..60,
            y in -60i64..60,
        ) {
            check(&items, x, y)?;
        }

        #[test]
        fn prefix_conditions_on_text_are_exact(
            items in proptest::collection::vec(("[a-c#$ ]{0,3}", "[a-z]{0,2}"), 1..40),
            x in "[a-c#$ ]{0,3}",
            y in "[a-c#$ ]{0,3}",
        ) {
            check(&items, x, y)?;
        }
    }

    #[test]
    fn begins_with_on_the_first_part_matches_its_text() {
        let encoded = begins_with("ab".to_owned())
            .encode_prefix()
            .expect("encodes");
        assert!(holds(&encoded, &key(&"abc".to_owned(), &1u8)));
        assert!(holds(&encoded, &key(&"ab".to_owned(), &1u8)));
        assert!(!holds(&encoded, &key(&"a".to_owned(), &1u8)));
    }
}
