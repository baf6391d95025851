//! The size of an item as DynamoDB counts it against its 400 KB item limit, checked before
//! anything is sent.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Item};
use crate::key::StoredKey;

/// DynamoDB's item size limit: 400 KB.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The size of an item as DynamoDB counts it against the 400 KB limit: every attribute name's
/// UTF-8 length plus its value's size (strings and binaries by length, numbers by significant
/// digits, 1 byte for booleans and nulls, 3 bytes plus 1 per element for lists and maps).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
        // A type this SDK version does not know: count its debug form, an over-estimate.
        other => format!("{other:?}").len(),
    }
}

/// One byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or(n);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// Rejects an item over DynamoDB's size limit before it is sent, naming it by its key.
pub(crate) fn check_item_size(model: &'static str, item: &Item) -> Result<(), Error> {
    let size = item_size(item);
    if size <= MAX_ITEM_BYTES {
        return Ok(());
    }
    let key = match StoredKey::of(item) {
        Some(key) => key.to_string(),
        None => "(without a key)".to_owned(),
    };
    Err(Error::ItemTooLarge {
        model,
        key,
        size,
        limit: MAX_ITEM_BYTES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{PK_ATTR, SK_ATTR};

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        let item = Item::from([("ab".to_string(), s("xyz"))]);
        assert_eq!(item_size(&item), 5);
        assert_eq!(number_size("12345"), 4);
        assert_eq!(number_size("-0.00120"), 2);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("1.5e10"), 2);
        let list = AttributeValue::L(vec![s("a"), AttributeValue::Bool(true)]);
        assert_eq!(value_size(&list), 3 + 2 + 2);
        let map = AttributeValue::M(Item::from([("k".to_string(), s("vv"))]));
        assert_eq!(value_size(&map), 3 + 1 + 1 + 2);
    }

    #[test]
    fn items_over_the_limit_are_named() {
        let big = Item::from([
            (PK_ATTR.to_string(), s("[t]#u#1")),
            (SK_ATTR.to_string(), s("[t]#u#_")),
            ("body".to_string(), s(&"x".repeat(MAX_ITEM_BYTES))),
        ]);
        match check_item_size("Doc", &big) {
            Err(Error::ItemTooLarge {
                model, key, size, ..
            }) => {
                assert_eq!(model, "Doc");
                assert!(key.contains("[t]#u#1"), "{key}");
                assert!(size > MAX_ITEM_BYTES);
            }
            other => panic!("{other:?}"),
        }
        let small = Item::from([("body".to_string(), s("x"))]);
        assert!(check_item_size("Doc", &small).is_ok());
    }
}
