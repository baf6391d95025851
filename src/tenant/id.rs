//! [`TenantId`]: a tenant id validated once, and [`IntoTenantId`] for APIs that take one.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::Error;

/// The longest tenant id accepted, in characters (all of them ASCII, so also in bytes).
///
/// Keys carry the tenant id in front of every value; 64 leaves room for a ULID, a UUID or a
/// readable slug while keeping keys well inside DynamoDB's key size limits.
pub const MAX_TENANT_ID_LEN: usize = 64;

/// How much of a rejected value [`Error::InvalidTenantId`] keeps, in characters, so that an
/// error built from hostile input stays small enough to log.
const MAX_REPORTED_LEN: usize = 80;

/// A validated tenant id: 1..=64 characters from `[A-Za-z0-9._-]`.
///
/// Every tenant-scoped key starts with `[<tenant>]#`, so the id must not contain the separator
/// `#`, the brackets, whitespace or control characters; with those excluded no tenant's keys can
/// be a prefix of another's (`[acme]#` vs `[acme-corp]#`). Validation happens once, in
/// [`TenantId::new`] (or `parse`, `try_from`, deserialisation); holding a `TenantId` is proof
/// the id is well-formed. Cloning is cheap (a reference count).
///
/// ```
/// use dynabao::tenant::TenantId;
///
/// let acme = TenantId::new("acme-corp.eu_1")?;
/// assert_eq!(acme.as_str(), "acme-corp.eu_1");
///
/// let err = TenantId::new("acme#admin").unwrap_err();
/// assert_eq!(err.code(), "invalid_tenant_id");
/// assert!(err.to_string().contains("contains '#'"));
/// # Ok::<(), dynabao::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Validates `id` and wraps it.
    ///
    /// Rejects empty ids, ids longer than [`MAX_TENANT_ID_LEN`] and ids with any character
    /// outside `[A-Za-z0-9._-]` with [`Error::InvalidTenantId`], whose `reason` names the first
    /// offending character.
    pub fn new(id: impl AsRef<str>) -> Result<TenantId, Error> {
        let id = id.as_ref();
        validate(id)?;
        Ok(TenantId(Arc::from(id)))
    }

    /// The id as a string slice, for building keys and for logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the rules of [`TenantId`], returning the reason for the first failure.
fn validate(id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(invalid(id, "is empty"));
    }
    if let Some(c) = id.chars().find(|&c| !is_allowed(c)) {
        return Err(invalid(id, forbidden_reason(c)));
    }
    // Every character is ASCII now, so bytes and characters agree.
    if id.len() > MAX_TENANT_ID_LEN {
        return Err(invalid(id, "is longer than 64 characters"));
    }
    Ok(())
}

/// Whether `c` may appear in a tenant id.
fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The error for a rejected id, keeping at most [`MAX_REPORTED_LEN`] characters of it.
fn invalid(id: &str, reason: &'static str) -> Error {
    let value = match id.char_indices().nth(MAX_REPORTED_LEN) {
        Some((cut, _)) => format!("{}...", &id[..cut]),
        None => id.to_owned(),
    };
    Error::InvalidTenantId { value, reason }
}

/// A reason naming the forbidden character `c` (the reason is `&'static str`, hence the table).
fn forbidden_reason(c: char) -> &'static str {
    match c {
        '#' => "contains '#' (the key separator)",
        '[' => "contains '[' (tenant ids are bracketed in keys)",
        ']' => "contains ']' (tenant ids are bracketed in keys)",
        ' ' => "contains a space",
        '\t' => "contains a tab",
        '\n' => "contains a newline",
        '\r' => "contains a carriage return",
        '\0' => "contains a NUL character",
        '!' => "contains '!'",
        '"' => "contains '\"'",
        '$' => "contains '$'",
        '%' => "contains '%'",
        '&' => "contains '&'",
        '\'' => "contains an apostrophe (')",
        '(' => "contains '('",
        ')' => "contains ')'",
        '*' => "contains '*'",
        '+' => "contains '+'",
        ',' => "contains ','",
        '/' => "contains '/'",
        ':' => "contains ':'",
        ';' => "contains ';'",
        '<' => "contains '<'",
        '=' => "contains '='",
        '>' => "contains '>'",
        '?' => "contains '?'",
        '@' => "contains '@'",
        '\\' => "contains '\\'",
        '^' => "contains '^'",
        '`' => "contains '`'",
        '{' => "contains '{'",
        '|' => "contains '|'",
        '}' => "contains '}'",
        '~' => "contains '~'",
        c if c.is_control() => "contains a control character",
        c if c.is_whitespace() => "contains whitespace",
        _ => "contains a non-ASCII character (only A-Z, a-z, 0-9, '.', '_' and '-' are allowed)",
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantId").field(&&*self.0).finish()
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for TenantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::new(s)
    }
}

impl TryFrom<&str> for TenantId {
    type Error = Error;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        TenantId::new(value)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        TenantId::new(value)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl serde::Serialize for TenantId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TenantId {
    /// Deserialises a string and validates it like [`TenantId::new`]; an invalid id is a
    /// deserialisation error, so a `TenantId` field can never hold an unchecked value.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = TenantId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tenant id: 1 to 64 characters from [A-Za-z0-9._-]")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TenantId, E> {
                TenantId::new(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

/// Anything an API accepts where it needs a tenant: a [`TenantId`] (moved or borrowed) or a
/// string that is validated on the way in.
///
/// Functions such as [`TenantContext::run_with_tenant`](super::TenantContext::run_with_tenant)
/// take `impl IntoTenantId`, so callers can pass `"acme"` in tests and a `TenantId` they already
/// validated in services, with one signature.
pub trait IntoTenantId {
    /// Converts into a [`TenantId`], validating if `self` is a string.
    fn into_tenant_id(self) -> Result<TenantId, Error>;
}

impl IntoTenantId for TenantId {
    fn into_tenant_id(self) -> Result<TenantId, Error> {
        Ok(self)
    }
}

impl IntoTenantId for &TenantId {
    fn into_tenant_id(self) -> Result<TenantId, Error> {
        Ok(self.clone())
    }
}

impl IntoTenantId for &str {
    fn into_tenant_id(self) -> Result<TenantId, Error> {
        TenantId::new(self)
    }
}

impl IntoTenantId for String {
    fn into_tenant_id(self) -> Result<TenantId, Error> {
        TenantId::new(self)
    }
}

impl IntoTenantId for &String {
    fn into_tenant_id(self) -> Result<TenantId, Error> {
        TenantId::new(self)
    }
}

/// A ULID's 26 Crockford base32 characters are always a valid tenant id, so this cannot fail.
impl From<ulid::Ulid> for TenantId {
    fn from(id: ulid::Ulid) -> Self {
        TenantId(Arc::from(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;

    fn reason_of(input: &str) -> &'static str {
        match TenantId::new(input) {
            Err(Error::InvalidTenantId { reason, .. }) => reason,
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn accepts_valid_ids() {
        let long = "a".repeat(64);
        for ok in [
            "a",
            "Z",
            "0",
            "acme",
            "acme-corp",
            "acme.corp",
            "acme_corp",
            "ACME-Corp.eu_1",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "550e8400-e29b-41d4-a716-446655440000",
            "...",
            "-",
            long.as_str(),
        ] {
            let id = TenantId::new(ok).unwrap_or_else(|e| panic!("{ok:?} rejected: {e}"));
            assert_eq!(id.as_str(), ok);
            assert_eq!(id.to_string(), ok);
        }
    }

    #[test]
    fn rejects_invalid_ids_with_a_specific_reason() {
        let too_long = "a".repeat(65);
        let cases: &[(&str, &str)] = &[
            ("", "is empty"),
            ("acme#admin", "'#'"),
            ("#", "'#'"),
            ("[acme", "'['"),
            ("acme]", "']'"),
            ("acme corp", "space"),
            ("acme\tcorp", "tab"),
            ("acme\n", "newline"),
            ("acme\r", "carriage return"),
            ("ac\0me", "NUL"),
            ("ac\u{7f}me", "control character"),
            ("acme/eu", "'/'"),
            ("acme:eu", "':'"),
            ("acme@corp", "'@'"),
            ("acme\u{a0}corp", "whitespace"),
            ("caf\u{e9}", "non-ASCII"),
            ("\u{0430}cme", "non-ASCII"), // Cyrillic 'a', a homoglyph of ASCII 'a'
            ("\u{65e5}\u{672c}", "non-ASCII"),
            (too_long.as_str(), "longer than 64"),
        ];
        for (input, expected) in cases {
            let reason = reason_of(input);
            assert!(
                reason.contains(expected),
                "{input:?}: reason {reason:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn forbidden_character_reported_before_length() {
        let input = format!("{}#", "a".repeat(100));
        assert!(reason_of(&input).contains("'#'"));
    }

    #[test]
    fn rejected_value_is_kept_and_truncated() {
        match TenantId::new("bad#id") {
            Err(Error::InvalidTenantId { value, .. }) => assert_eq!(value, "bad#id"),
            other => panic!("unexpected {other:?}"),
        }
        let huge = "\u{e9}".repeat(10_000);
        match TenantId::new(&huge) {
            Err(Error::InvalidTenantId { value, .. }) => {
                assert_eq!(value.chars().count(), MAX_REPORTED_LEN + 3);
                assert!(value.ends_with("..."));
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = TenantId::new("a b").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid tenant id \"a b\": contains a space")
        );
    }

    #[test]
    fn conversions_agree() {
        let id = TenantId::new("acme").unwrap();
        assert_eq!("acme".parse::<TenantId>().unwrap(), id);
        assert_eq!(TenantId::try_from("acme").unwrap(), id);
        assert_eq!(TenantId::try_from(String::from("acme")).unwrap(), id);
        assert_eq!(id, "acme");
        assert_eq!(id, *"acme");
        assert_eq!(<TenantId as AsRef<str>>::as_ref(&id), "acme");
        assert_eq!(String::from(id.clone()), "acme");
        assert_eq!(format!("{id:?}"), "TenantId(\"acme\")");
        assert!("a#b".parse::<TenantId>().is_err());
        assert!(TenantId::try_from(String::new()).is_err());

        let mut set = std::collections::HashSet::new();
        set.insert(id.clone());
        assert!(set.contains("acme"));
        assert!(TenantId::new("a").unwrap() < TenantId::new("b").unwrap());
    }

    #[test]
    fn into_tenant_id_for_all_inputs() {
        let id = TenantId::new("acme").unwrap();
        let owned = String::from("acme");
        assert_eq!((&id).into_tenant_id().unwrap(), id);
        assert_eq!(id.clone().into_tenant_id().unwrap(), id);
        assert_eq!("acme".into_tenant_id().unwrap(), id);
        assert_eq!((&owned).into_tenant_id().unwrap(), id);
        assert_eq!(owned.into_tenant_id().unwrap(), id);
        assert!("".into_tenant_id().is_err());
        assert!(String::from("a]").into_tenant_id().is_err());
    }

    #[test]
    fn ulids_are_valid_tenant_ids() {
        for _ in 0..100 {
            let ulid = ulid::Ulid::new();
            let id = TenantId::from(ulid);
            assert_eq!(TenantId::new(ulid.to_string()).unwrap(), id);
            assert_eq!(id.as_str().len(), 26);
        }
        assert_eq!(TenantId::from(ulid::Ulid::nil()).as_str(), "0".repeat(26));
    }

    #[test]
    fn clone_shares_the_allocation() {
        let id = TenantId::new("acme").unwrap();
        let copy = id.clone();
        assert!(Arc::ptr_eq(&id.0, &copy.0));
    }

    #[test]
    fn serde_round_trip_validates() {
        let id = TenantId::new("acme").unwrap();
        let av =
            serde_dynamo::to_attribute_value::<_, aws_sdk_dynamodb::types::AttributeValue>(&id)
                .unwrap();
        assert_eq!(
            av,
            aws_sdk_dynamodb::types::AttributeValue::S("acme".into())
        );
        let back: TenantId = serde_dynamo::from_attribute_value(av).unwrap();
        assert_eq!(back, id);

        let ok: Result<TenantId, serde::de::value::Error> =
            serde::Deserialize::deserialize("acme".into_deserializer());
        assert_eq!(ok.unwrap(), id);
        let bad: Result<TenantId, serde::de::value::Error> =
            serde::Deserialize::deserialize("acme#x".into_deserializer());
        let msg = bad.unwrap_err().to_string();
        assert!(msg.contains("contains '#'"), "{msg}");
        let bad: Result<TenantId, serde::de::value::Error> =
            serde::Deserialize::deserialize(String::new().into_deserializer());
        assert!(bad.is_err());
        let wrong_type: Result<TenantId, serde::de::value::Error> =
            serde::Deserialize::deserialize(7u32.into_deserializer());
        assert!(wrong_type.is_err());
    }

    fn allowed(s: &str) -> bool {
        (1..=64).contains(&s.chars().count()) && s.chars().all(is_allowed)
    }

    proptest! {
        #[test]
        fn accepted_iff_rules_hold(s in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9._-]{0,70}",
            "[A-Za-z0-9._#\\[\\] \t\n\u{0}-]{0,70}",
            "[a-z]{60,68}",
        ]) {
            let result = TenantId::new(&s);
            prop_assert_eq!(result.is_ok(), allowed(&s), "input {:?}", s);
            match result {
                Ok(id) => prop_assert_eq!(id.as_str(), s.as_str()),
                Err(Error::InvalidTenantId { value, .. }) => {
                    prop_assert!(value.chars().count() <= MAX_REPORTED_LEN + 3);
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn every_well_formed_id_is_accepted(s in "[A-Za-z0-9._-]{1,64}") {
            let id = TenantId::new(&s);
            prop_assert!(id.is_ok(), "{:?} rejected: {:?}", s, id);
            let id = id.unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            prop_assert_eq!(s.parse::<TenantId>().ok(), Some(id));
        }
    }
}
