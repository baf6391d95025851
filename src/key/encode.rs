//! Order-preserving encoding of key values.
//!
//! DynamoDB compares string keys by their UTF-8 bytes. Every [`KeyPart`] writes a string whose
//! byte order equals the value order, so a sort-key range over integers, floats, timestamps or
//! ULIDs returns exactly the values in that range, in order.
//!
//! Text is escaped so that the separator `#` never appears inside an encoded value: every
//! character up to and including `$` (U+0000..=U+0024, which covers `#`, space and the control
//! characters) becomes `$` followed by one printable character (`U+0040 + c`). The mapping is
//! monotone and prefix-free, and the separator `#` sorts below every encoded character, so:
//! - a value containing `#` cannot forge another key's structure ([invariant 4](crate#invariants));
//! - composite keys (`a#b`) sort by their first field, then their second;
//! - ordinary text stays readable in the console.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use ulid::Ulid;

/// The separator between the parts of a stored key.
pub(crate) const SEPARATOR: char = '#';
/// The escape character for low characters inside encoded text.
const ESCAPE: char = '$';
/// Characters up to this one are escaped.
const LAST_ESCAPED: char = '$';
/// Added to an escaped character's code to make it printable.
const ESCAPE_OFFSET: u32 = 0x40;

/// Why a value cannot be a key part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKeyPart(pub String);

/// Writes encoded key parts. Only escaped text and fixed-width digits reach the buffer, so no
/// implementation of [`KeyPart`] can write a separator.
#[derive(Debug)]
pub struct KeyWriter<'a> {
    out: &'a mut String,
}

impl<'a> KeyWriter<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        KeyWriter { out }
    }

    /// Writes text, escaped so that order is kept and `#` cannot appear.
    pub fn text(&mut self, s: &str) {
        self.out.reserve(s.len());
        for c in s.chars() {
            if c <= LAST_ESCAPED {
                self.out.push(ESCAPE);
                // c <= '$' so c + 0x40 <= 'd': always a valid char.
                self.out
                    .push(char::from_u32(c as u32 + ESCAPE_OFFSET).unwrap_or('?'));
            } else {
                self.out.push(c);
            }
        }
    }

    /// Writes the separator between the fields of a composite key.
    fn separator(&mut self) {
        self.out.push(SEPARATOR);
    }

    /// Writes an unsigned number as fixed-width lowercase hex (`width` digits).
    fn hex(&mut self, v: u128, width: usize) {
        use std::fmt::Write;
        let _ = write!(self.out, "{v:0width$x}");
    }
}

/// Reverses [`KeyWriter::text`]. Returns `None` for input that no value encodes to.
pub fn decode_text(encoded: &str) -> Option<String> {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            let e = chars.next()? as u32;
            let raw = e.checked_sub(ESCAPE_OFFSET)?;
            let raw = char::from_u32(raw)?;
            if raw > LAST_ESCAPED {
                return None;
            }
            out.push(raw);
        } else if c <= LAST_ESCAPED {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A type whose values can be part of a partition or sort key.
///
/// Implementations must be order-preserving (the encoding of `a` sorts before the encoding of `b`
/// exactly when `a < b`) and injective. Implement it for your own id types by delegating to the
/// inner value:
///
/// ```
/// use dynabao::key::{InvalidKeyPart, KeyPart, KeyWriter};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct AccountId(String);
///
/// impl KeyPart for AccountId {
///     fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
///         self.0.write_key(w)
///     }
/// }
/// ```
///
/// Enums that serialize to strings get an implementation from `#[derive(dynabao::KeyPart)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a key",
    label = "this type has no order-preserving key encoding",
    note = "key fields may be strings, integers, floats, bool, DateTime<Utc>, NaiveDate, NaiveDateTime, dynabao::Ulid (ulid 1.x), uuid::Uuid (feature uuid), enums and newtypes with #[derive(dynabao::KeyPart)]; optional (`Option<_>`) fields may only be index keys"
)]
pub trait KeyPart {
    /// Appends the encoding of `self`.
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart>;
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        (**self).write_key(w)
    }
}

impl KeyPart for str {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        w.text(self);
        Ok(())
    }
}

impl KeyPart for String {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        w.text(self);
        Ok(())
    }
}

impl KeyPart for bool {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        w.text(if *self { "1" } else { "0" });
        Ok(())
    }
}

// Every integer up to 64 bits uses one 16-digit form, so widening a field's type (u32 -> u64,
// i32 -> i64) keeps its stored keys valid.
macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
                w.hex(*self as u128, 16);
                Ok(())
            }
        }
    )*};
}
macro_rules! signed_key {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
                // Flipping the sign bit maps i64::MIN..=i64::MAX onto 0..=u64::MAX in order.
                let v = (*self as i64 as u64) ^ (1u64 << 63);
                w.hex(v as u128, 16);
                Ok(())
            }
        }
    )*};
}
unsigned_key!(u8, u16, u32, u64, usize);
signed_key!(i8, i16, i32, i64, isize);

impl KeyPart for u128 {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        w.hex(*self, 32);
        Ok(())
    }
}

impl KeyPart for i128 {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        w.hex((*self as u128) ^ (1u128 << 127), 32);
        Ok(())
    }
}

impl KeyPart for f64 {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        if self.is_nan() {
            return Err(InvalidKeyPart("NaN has no place in a key order".into()));
        }
        // -0.0 == 0.0, so both must find the same item.
        let v = if *self == 0.0 { 0.0f64 } else { *self };
        let bits = v.to_bits();
        // Negative floats: flip every bit (larger magnitude sorts first); positive: flip the sign.
        let ordered = if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1u64 << 63)
        };
        w.hex(ordered as u128, 16);
        Ok(())
    }
}

impl KeyPart for f32 {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        // Widening is exact, so f32 and f64 fields share one form.
        f64::from(*self).write_key(w)
    }
}

impl KeyPart for DateTime<Utc> {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        let year = self.year();
        if !(0..=9999).contains(&year) {
            return Err(InvalidKeyPart(format!(
                "timestamp year {year} is outside 0..=9999, which a fixed-width key cannot order"
            )));
        }
        // Fixed width with nanoseconds, always `Z`: string order is time order.
        w.text(&self.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string());
        Ok(())
    }
}

impl KeyPart for NaiveDate {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        check_year(self.year())?;
        w.text(&self.format("%Y-%m-%d").to_string());
        Ok(())
    }
}

impl KeyPart for NaiveDateTime {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        check_year(self.year())?;
        // Fixed width with nanoseconds and no zone: string order is time order.
        w.text(&self.format("%Y-%m-%dT%H:%M:%S%.9f").to_string());
        Ok(())
    }
}

/// Fixed-width dates order as strings only for years 0..=9999.
fn check_year(year: i32) -> Result<(), InvalidKeyPart> {
    if (0..=9999).contains(&year) {
        Ok(())
    } else {
        Err(InvalidKeyPart(format!(
            "year {year} is outside 0..=9999, which a fixed-width key cannot order"
        )))
    }
}

/// Lowercase hyphenated hex: fixed width, so string order is byte order (and time order for
/// version 7 UUIDs).
#[cfg(feature = "uuid")]
impl KeyPart for uuid::Uuid {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        let mut buf = uuid::Uuid::encode_buffer();
        w.text(self.hyphenated().encode_lower(&mut buf));
        Ok(())
    }
}

impl KeyPart for Ulid {
    fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
        // Crockford base32 in upper case sorts like the 128-bit value.
        let mut buf = [0u8; ulid::ULID_LEN];
        w.text(self.array_to_str(&mut buf));
        Ok(())
    }
}

// A composite key's value is a tuple: its fields joined with the separator, exactly as a model's
// composite key is stored, so sort-key conditions on composite keys compare like writes.
macro_rules! tuple_key {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: KeyPart, $($rest: KeyPart),*> KeyPart for ($first, $($rest,)*) {
            #[allow(non_snake_case)]
            fn write_key(&self, w: &mut KeyWriter<'_>) -> Result<(), InvalidKeyPart> {
                let ($first, $($rest,)*) = self;
                $first.write_key(w)?;
                $( w.separator(); $rest.write_key(w)?; )*
                Ok(())
            }
        }
    };
}
tuple_key!(A, B);
tuple_key!(A, B, C);
tuple_key!(A, B, C, D);

/// Encodes a value that serializes to a plain string (a unit-variant enum) as escaped text.
///
/// Used by `#[derive(dynabao::KeyPart)]`. The order of such keys is the order of the strings.
#[doc(hidden)]
pub fn write_serialized_str<T: serde::Serialize + ?Sized>(
    value: &T,
    w: &mut KeyWriter<'_>,
) -> Result<(), InvalidKeyPart> {
    match serde_dynamo::to_attribute_value::<_, aws_sdk_dynamodb::types::AttributeValue>(value) {
        Ok(aws_sdk_dynamodb::types::AttributeValue::S(s)) => {
            w.text(&s);
            Ok(())
        }
        Ok(_) => Err(InvalidKeyPart(
            "value does not serialize to a string; only unit enum variants can be key parts".into(),
        )),
        Err(e) => Err(InvalidKeyPart(e.to_string())),
    }
}

/// Encodes one value as a standalone string, as it would appear in a key.
pub fn encode_part<T: KeyPart + ?Sized>(value: &T) -> Result<String, InvalidKeyPart> {
    let mut s = String::new();
    value.write_key(&mut KeyWriter::new(&mut s))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn enc<T: KeyPart + ?Sized>(v: &T) -> String {
        encode_part(v).unwrap()
    }

    #[test]
    fn text_escapes_separator_and_low_characters() {
        assert_eq!(enc("abc"), "abc");
        assert_eq!(enc("a#b"), "a$cb");
        assert_eq!(enc("a$b"), "a$db");
        assert_eq!(enc("a b"), "a$`b");
        assert_eq!(enc(""), "");
        assert!(!enc("##[x]#\0\t").contains('#'));
        assert_eq!(decode_text(&enc("a#$ \0b")).unwrap(), "a#$ \0b");
        assert_eq!(decode_text("a#"), None);
        assert_eq!(decode_text("a$"), None);
        assert_eq!(decode_text("$z"), None);
    }

    #[test]
    fn integers_of_every_width_share_one_form() {
        assert_eq!(enc(&5u8), enc(&5u64));
        assert_eq!(enc(&-5i8), enc(&-5i64));
        assert_eq!(enc(&0i64), "8000000000000000");
        assert!(enc(&-1i64) < enc(&0i64));
        assert!(enc(&i64::MIN) < enc(&i64::MAX));
        assert!(enc(&i128::MIN) < enc(&-1i128));
    }

    #[test]
    fn floats_order_and_reject_nan() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            2.5,
            f64::INFINITY,
        ];
        for pair in xs.windows(2) {
            assert!(enc(&pair[0]) <= enc(&pair[1]), "{pair:?}");
        }
        assert_eq!(enc(&-0.0f64), enc(&0.0f64));
        assert_eq!(enc(&1.5f32), enc(&1.5f64));
        assert!(encode_part(&f64::NAN).is_err());
    }

    #[test]
    fn timestamps_are_fixed_width_and_bounded() {
        let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(enc(&t), "2024-01-02T03:04:05.000000000Z");
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        assert!(encode_part(&far).is_err());
    }

    #[test]
    fn tuples_encode_like_composite_keys() {
        assert_eq!(
            enc(&("a#b".to_string(), 1u8)),
            format!("a$cb#{}", enc(&1u8))
        );
        assert!(enc(&("a".to_string(), 9i64)) < enc(&("a!".to_string(), -9i64)));
    }

    #[test]
    fn bools_and_ulids() {
        assert!(enc(&false) < enc(&true));
        let a = Ulid::from_parts(1, 5);
        let b = Ulid::from_parts(2, 0);
        assert!(enc(&a) < enc(&b));
        assert_eq!(enc(&a).len(), 26);
    }

    fn arb_datetime() -> impl Strategy<Value = DateTime<Utc>> {
        // Years 0..=9999.
        (-62_167_219_200i64..253_402_300_799i64, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
    }

    proptest! {
        #[test]
        fn string_order_is_kept(a in any::<String>(), b in any::<String>()) {
            prop_assert_eq!(a.cmp(&b), enc(a.as_str()).cmp(&enc(b.as_str())));
            prop_assert_eq!(decode_text(&enc(a.as_str())), Some(a.clone()));
            prop_assert!(!enc(a.as_str()).contains(SEPARATOR));
        }

        #[test]
        fn i64_order_is_kept(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn i32_order_is_kept(a in any::<i32>(), b in any::<i32>()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn u64_order_is_kept(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn i128_order_is_kept(a in any::<i128>(), b in any::<i128>()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn f64_order_is_kept(a in any::<f64>(), b in any::<f64>()) {
            prop_assume!(!a.is_nan() && !b.is_nan());
            let ord = a.partial_cmp(&b).unwrap();
            prop_assert_eq!(ord, enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn datetime_order_is_kept(a in arb_datetime(), b in arb_datetime()) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn ulid_order_is_kept(a in any::<u128>(), b in any::<u128>()) {
            let (a, b) = (Ulid(a), Ulid(b));
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn naive_date_and_time_order_is_kept(a in arb_datetime(), b in arb_datetime()) {
            let (da, db) = (a.date_naive(), b.date_naive());
            prop_assert_eq!(da.cmp(&db), enc(&da).cmp(&enc(&db)));
            let (ta, tb) = (a.naive_utc(), b.naive_utc());
            prop_assert_eq!(ta.cmp(&tb), enc(&ta).cmp(&enc(&tb)));
        }

        #[cfg(feature = "uuid")]
        #[test]
        fn uuid_order_is_kept(a in any::<u128>(), b in any::<u128>()) {
            let (a, b) = (uuid::Uuid::from_u128(a), uuid::Uuid::from_u128(b));
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }
    }

    #[test]
    fn naive_dates_outside_four_digit_years_are_refused() {
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("a date");
        let mut out = String::new();
        assert!(far.write_key(&mut KeyWriter::new(&mut out)).is_err());
        let before = NaiveDate::from_ymd_opt(-1, 1, 1).expect("a date");
        assert!(before
            .and_hms_opt(0, 0, 0)
            .expect("a time")
            .write_key(&mut KeyWriter::new(&mut out))
            .is_err());
    }
}
