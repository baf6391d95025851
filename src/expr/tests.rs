//! Expressions render to exactly the DynamoDB strings expected.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Condition, Placeholders};
use crate::Model;

#[derive(Debug, Clone, Serialize, Deserialize, Model)]
#[bao(prefix = "t")]
struct Thing {
    #[bao(pk)]
    id: String,
    name: String,
    size: u32,
    score: f64,
    tags: Vec<String>,
    nick: Option<String>,
    meta: HashMap<String, String>,
    #[bao(ttl)]
    expires: Option<chrono::DateTime<chrono::Utc>>,
}

fn render(
    c: Condition<Thing>,
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut p = Placeholders::new();
    let s = c.render(&mut p).unwrap();
    let (n, v) = p.into_maps();
    (s, n.unwrap_or_default(), v.unwrap_or_default())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

#[test]
fn comparisons() {
    for (c, op) in [
        (Thing::SIZE.eq(3u32), "="),
        (Thing::SIZE.ne(3u32), "<>"),
        (Thing::SIZE.lt(3u32), "<"),
        (Thing::SIZE.le(3u32), "<="),
        (Thing::SIZE.gt(3u32), ">"),
        (Thing::SIZE.ge(3u32), ">="),
    ] {
        let (e, names, values) = render(c);
        assert_eq!(e, format!("#n0 {op} :v0"));
        assert_eq!(names["#n0"], "size");
        assert_eq!(values[":v0"], n("3"));
    }
}

#[test]
fn functions_and_lists() {
    assert_eq!(
        render(Thing::SIZE.between(1u32, 9u32)).0,
        "#n0 BETWEEN :v0 AND :v1"
    );
    assert_eq!(
        render(Thing::NAME.begins_with("ab")).0,
        "begins_with(#n0, :v0)"
    );
    assert_eq!(
        render(Thing::NICK.begins_with("ab")).0,
        "begins_with(#n0, :v0)"
    );
    let (e, _, v) = render(Thing::TAGS.contains("x"));
    assert_eq!(e, "contains(#n0, :v0)");
    assert_eq!(v[":v0"], s("x"));
    assert_eq!(
        render(Thing::NAME.is_in(["a", "b", "c"])).0,
        "#n0 IN (:v0, :v1, :v2)"
    );
    assert_eq!(render(Thing::NICK.exists()).0, "attribute_exists(#n0)");
    assert_eq!(
        render(Thing::NICK.not_exists()).0,
        "attribute_not_exists(#n0)"
    );
    let (e, _, v) = render(Thing::TAGS.size().ge(2));
    assert_eq!(e, "size(#n0) >= :v0");
    assert_eq!(v[":v0"], n("2"));
}

#[test]
fn combinators_nest_with_parentheses() {
    let c = Thing::NAME
        .eq("a")
        .and(Thing::SIZE.gt(1u32))
        .and(Thing::SCORE.lt(2.5))
        .or(!Thing::NICK.exists());
    assert_eq!(
        render(c).0,
        "((#n0 = :v0 AND #n1 > :v1 AND #n2 < :v2) OR (NOT attribute_exists(#n3)))"
    );
}

#[test]
fn reserved_words_and_repeated_names_share_placeholders() {
    // `size` and `name` are DynamoDB reserved words: they only ever appear as placeholders.
    let (e, names, _) = render(Thing::SIZE.gt(1u32).and(Thing::SIZE.lt(5u32)));
    assert_eq!(e, "(#n0 > :v0 AND #n0 < :v1)");
    assert_eq!(names.len(), 1);
}

#[test]
fn nested_paths() {
    let (e, names, values) = render(Thing::META.path().key("colour").eq("red"));
    assert_eq!(e, "#n0.#n1 = :v0");
    assert_eq!(names["#n0"], "meta");
    assert_eq!(names["#n1"], "colour");
    assert_eq!(values[":v0"], s("red"));
    assert_eq!(
        render(Thing::TAGS.path().index(2).eq("z")).0,
        "#n0[2] = :v0"
    );
    assert_eq!(
        render(Thing::META.path().key("a").exists()).0,
        "attribute_exists(#n0.#n1)"
    );
}

#[test]
fn ttl_values_are_compared_as_stored_epoch_seconds() {
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let (e, names, values) = render(Thing::EXPIRES.lt(Some(t)));
    assert_eq!(e, "#n0 < :v0");
    assert_eq!(names["#n0"], "_ttl");
    assert_eq!(values[":v0"], n("1700000000"));
}

#[test]
fn in_with_no_values_is_an_invalid_request() {
    let c = Thing::NAME.is_in(Vec::<String>::new());
    let err = c.render(&mut Placeholders::new()).unwrap_err();
    assert!(
        matches!(err, crate::Error::InvalidRequest { .. }),
        "{err:?}"
    );
}
