//! Sealing, binding, rotation and expiry of cursors.

use super::*;
use crate::tenant::TenantId;

const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn scope(t: &str) -> KeyScope {
    KeyScope::Tenant(TenantId::new(t).unwrap())
}

fn last_key(t: &str) -> Item {
    Item::from([
        ("_pk".to_owned(), AttributeValue::S(format!("[{t}]#u#1"))),
        ("_sk".to_owned(), AttributeValue::S(format!("[{t}]#u#_"))),
    ])
}

fn binding<'a>(scope: &'a KeyScope, index: &'a str) -> Binding<'a> {
    Binding {
        scope,
        model_prefix: "u",
        index,
        condition: condition_digest(&["_pk", "=", "x"]),
    }
}

#[test]
fn round_trips() {
    let key = CursorKey::new(SECRET).unwrap();
    let a = scope("acme");
    let c = encode(&key, &binding(&a, ""), &last_key("acme")).unwrap();
    assert!(c
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(
        decode(&key, &binding(&a, ""), &c).unwrap(),
        last_key("acme")
    );
}

fn reason(e: Error) -> &'static str {
    match e {
        Error::InvalidCursor { reason } => reason,
        other => panic!("expected InvalidCursor, got {other:?}"),
    }
}

#[test]
fn rejects_other_tenant_model_index_condition_and_key() {
    let key = CursorKey::development();
    let a = scope("acme");
    let b = scope("acme-corp");
    let c = encode(&key, &binding(&a, "gsi1"), &last_key("acme")).unwrap();
    assert_eq!(
        reason(decode(&key, &binding(&b, "gsi1"), &c).unwrap_err()),
        "issued for another tenant"
    );
    assert_eq!(
        reason(decode(&key, &binding(&a, "gsi2"), &c).unwrap_err()),
        "issued for another index"
    );
    let mut other_model = binding(&a, "gsi1");
    other_model.model_prefix = "post";
    assert_eq!(
        reason(decode(&key, &other_model, &c).unwrap_err()),
        "issued for another model"
    );
    let mut other_cond = binding(&a, "gsi1");
    other_cond.condition = condition_digest(&["_pk", "=", "y"]);
    assert_eq!(
        reason(decode(&key, &other_cond, &c).unwrap_err()),
        "issued for another key condition"
    );
    // Another key has another key id: the cursor names a key this handle does not hold.
    let other_key = CursorKey::new(b"another key, 32 bytes long......").unwrap();
    assert_eq!(
        reason(decode(&other_key, &binding(&a, "gsi1"), &c).unwrap_err()),
        "signature does not match"
    );
}

#[test]
fn a_cursor_under_a_known_key_id_with_a_wrong_tag_does_not_match() {
    let key = CursorKey::new(SECRET).unwrap();
    let a = scope("acme");
    let c = encode(&key, &binding(&a, ""), &last_key("acme")).unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    assert_eq!(
        reason(decode(&key, &binding(&a, ""), &URL_SAFE_NO_PAD.encode(&bytes)).unwrap_err()),
        "signature does not match"
    );
}

#[test]
fn rejects_edits_and_garbage() {
    let key = CursorKey::development();
    let a = scope("acme");
    let c = encode(&key, &binding(&a, ""), &last_key("acme")).unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
    for i in 0..bytes.len() {
        bytes[i] ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(
            matches!(
                decode(&key, &binding(&a, ""), &edited),
                Err(Error::InvalidCursor { .. })
            ),
            "byte {i}"
        );
        bytes[i] ^= 1;
    }
    for junk in ["", "!!!", "abc", &c[..c.len() - 2]] {
        assert!(
            matches!(
                decode(&key, &binding(&a, ""), junk),
                Err(Error::InvalidCursor { .. })
            ),
            "{junk:?}"
        );
    }
}

#[test]
fn a_signed_cursor_with_a_foreign_key_inside_is_rejected() {
    // Even a correctly signed cursor (a leaked key) cannot point into another tenant.
    let key = CursorKey::development();
    let a = scope("acme");
    let c = encode(&key, &binding(&a, ""), &last_key("globex")).unwrap();
    assert_eq!(
        reason(decode(&key, &binding(&a, ""), &c).unwrap_err()),
        "key outside the tenant"
    );
}

#[test]
fn a_skipped_item_of_another_model_of_the_tenant_is_a_valid_resume_point() {
    // A page can end on an item of another model that shares the partition (skipped by the
    // query); its key carries the tenant, not the model, and must round-trip.
    let key = CursorKey::new(SECRET).unwrap();
    let a = scope("acme");
    let skipped = Item::from([
        ("_pk".to_owned(), AttributeValue::S("[acme]#u#1".into())),
        ("_sk".to_owned(), AttributeValue::S("[acme]#post#9".into())),
        (
            "_gsi1_pk".to_owned(),
            AttributeValue::S("[acme]#post#x".into()),
        ),
    ]);
    let c = encode(&key, &binding(&a, ""), &skipped).unwrap();
    assert_eq!(decode(&key, &binding(&a, ""), &c).unwrap(), skipped);
}

#[test]
fn a_decoded_cursor_shows_no_tenant_id_and_no_key_value() {
    // Attack: base64-decode a cursor and read the tenant id and the stored keys out of it.
    let key = CursorKey::development(); // even the public key: nothing is plain text
    let tenant = "tenant-visible-7f3";
    let t = scope(tenant);
    let item = Item::from([
        (
            "_pk".to_owned(),
            AttributeValue::S(format!("[{tenant}]#u#alice@example.com")),
        ),
        (
            "_sk".to_owned(),
            AttributeValue::S(format!("[{tenant}]#u#_")),
        ),
    ]);
    let c = encode(&key, &binding(&t, "gsi4"), &item).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    for needle in [
        tenant.as_bytes(),
        b"alice@example.com",
        b"alice",
        b"_pk",
        b"gsi4",
        b"#u#",
    ] {
        assert!(
            !contains(needle),
            "{:?} visible",
            String::from_utf8_lossy(needle)
        );
    }
    // Two cursors for the same key differ (random nonce), so equal positions do not show.
    let again = encode(&key, &binding(&t, "gsi4"), &item).unwrap();
    assert_ne!(c, again);
    // The length tells a size class only.
    assert_eq!((raw.len() - HEADER_LEN - NONCE_LEN - TAG_LEN) % PAD_TO, 0);
}

#[test]
fn rotation_accepts_previous_keys_and_issues_under_the_current_one() {
    let old_secret = b"the old secret, thirty-two bytes";
    let new_secret = b"the new secret, thirty-two bytes";
    let old = CursorKey::new(old_secret).unwrap();
    let a = scope("acme");
    let issued_before = encode(&old, &binding(&a, ""), &last_key("acme")).unwrap();

    let rotated = CursorKey::new(new_secret)
        .unwrap()
        .with_previous(old_secret)
        .unwrap();
    assert_eq!(
        decode(&rotated, &binding(&a, ""), &issued_before).unwrap(),
        last_key("acme")
    );
    // Binding checks still apply to old-key cursors.
    assert_eq!(
        reason(decode(&rotated, &binding(&scope("globex"), ""), &issued_before).unwrap_err()),
        "issued for another tenant"
    );
    // New cursors are issued under the new key: the new key alone reads them, the old one
    // does not.
    let issued_after = encode(&rotated, &binding(&a, ""), &last_key("acme")).unwrap();
    let new_only = CursorKey::new(new_secret).unwrap();
    assert!(decode(&new_only, &binding(&a, ""), &issued_after).is_ok());
    assert_eq!(
        reason(decode(&old, &binding(&a, ""), &issued_after).unwrap_err()),
        "signature does not match"
    );
    // Once the old key is dropped, its cursors stop working.
    assert_eq!(
        reason(decode(&new_only, &binding(&a, ""), &issued_before).unwrap_err()),
        "signature does not match"
    );
}

#[test]
fn lifetime_expires_cursors_as_invalid() {
    let key = CursorKey::new(SECRET)
        .unwrap()
        .with_lifetime(Duration::from_secs(60));
    assert_eq!(key.lifetime(), Some(Duration::from_secs(60)));
    let a = scope("acme");
    let c = encode_at(&key, &binding(&a, ""), &last_key("acme"), 1_000).unwrap();
    assert!(decode_at(&key, &binding(&a, ""), &c, 1_000).is_ok());
    assert!(decode_at(&key, &binding(&a, ""), &c, 1_060).is_ok());
    assert_eq!(
        reason(decode_at(&key, &binding(&a, ""), &c, 1_061).unwrap_err()),
        "expired"
    );
    // A clock behind the issuer's (another instance) does not reject a fresh cursor.
    assert!(decode_at(&key, &binding(&a, ""), &c, 900).is_ok());
    // Without a lifetime nothing expires; shortening it applies to cursors already issued.
    let forever = CursorKey::new(SECRET).unwrap();
    assert_eq!(forever.lifetime(), None);
    assert!(decode_at(&forever, &binding(&a, ""), &c, u64::MAX).is_ok());
    let short = forever.with_lifetime(Duration::from_secs(10));
    assert_eq!(
        reason(decode_at(&short, &binding(&a, ""), &c, 1_011).unwrap_err()),
        "expired"
    );
}

#[test]
fn short_or_empty_secrets_are_refused() {
    for bad in [&b""[..], b"short", &[7u8; 31]] {
        let err = CursorKey::new(bad).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("at least 32 bytes")),
            "{err}"
        );
        let err = CursorKey::new(SECRET)
            .unwrap()
            .with_previous(bad)
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
    }
    assert!(CursorKey::new([7u8; 32]).is_ok());
    let key = CursorKey::new([7u8; 32]).unwrap();
    assert!(!key.is_development());
    assert_eq!(format!("{key:?}"), "CursorKey(..)");
    assert!(CursorKey::development().is_development());
    assert!(CursorKey::default().is_development());
    assert_eq!(
        format!("{:?}", CursorKey::development()),
        "CursorKey(development)"
    );
}

#[test]
fn version_one_cursors_are_refused() {
    // The signed-only format: version byte 1, then the tenant id in plain text.
    let mut v1 = vec![1u8, 0, 4];
    v1.extend_from_slice(b"acme");
    v1.extend_from_slice(&[0u8; 64]);
    let a = scope("acme");
    assert_eq!(
        reason(
            decode(
                &CursorKey::development(),
                &binding(&a, ""),
                &URL_SAFE_NO_PAD.encode(v1)
            )
            .unwrap_err()
        ),
        "unknown cursor version"
    );
}

#[test]
fn the_development_key_warns_once_per_key_and_a_real_key_never() {
    let a = scope("acme");
    let dev = CursorKey::development();
    let c = encode(&dev, &binding(&a, ""), &last_key("acme")).unwrap();
    decode(&dev, &binding(&a, ""), &c).unwrap();
    // The first use warned; later ones, and clones of the key (one `Db`), do not.
    assert!(!dev.warn_if_development());
    assert!(!dev.clone().warn_if_development());
    // A fresh development key (another `Db::new` handle) warns again, once.
    let other = CursorKey::development();
    assert!(other.warn_if_development());
    assert!(!other.warn_if_development());
    let real = CursorKey::new(SECRET).unwrap();
    let c = encode(&real, &binding(&a, ""), &last_key("acme")).unwrap();
    decode(&real, &binding(&a, ""), &c).unwrap();
    assert!(!real.warn_if_development());
}
