//! What the registry accepts as a display name, subdomain, custom domain and API-key name.

use crate::error::Error;

/// The model name registry errors carry.
pub(crate) const TENANT: &str = "TenantRecord";

fn refuse(reason: impl Into<String>) -> Error {
    Error::invalid_input(TENANT, reason)
}

/// A display name: 1 to 256 characters, no control characters.
pub(crate) fn name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(refuse("a tenant's name has 1 to 256 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("a tenant's name holds no control characters"));
    }
    Ok(())
}

/// One DNS label as a subdomain: 1 to 63 of `[a-z0-9-]`, not starting or ending with `-`.
/// Lowercase only: hosts are compared lowercased, so `Acme` could never be reached.
pub(crate) fn label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A subdomain label.
pub(crate) fn subdomain(value: &str) -> Result<(), Error> {
    if label(value) {
        Ok(())
    } else {
        Err(refuse(
            "a subdomain is one DNS label: 1 to 63 of a-z, 0-9 and '-', lowercase, not starting \
             or ending with '-'",
        ))
    }
}

/// A custom domain: lowercase labels joined by dots, at least two of them, at most 253
/// characters, no trailing dot.
pub(crate) fn domain(value: &str) -> Result<(), Error> {
    let labels: Vec<&str> = value.split('.').collect();
    if value.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| label(l)) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "TenantDomain",
            "a domain is two or more lowercase DNS labels joined by '.', at most 253 characters",
        ))
    }
}

/// An API key's name: 1 to 128 characters, no control characters.
pub(crate) fn key_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid_input(
            "ApiKey",
            "an API key's name has 1 to 128 characters and no control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hosts() {
        for ok in ["acme", "a", "acme-2", "0"] {
            assert!(subdomain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-a", "a-", "a.b", "a_b", &"a".repeat(64)] {
            assert!(
                matches!(subdomain(bad), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
        for ok in ["billing.acme.com", "a.io"] {
            assert!(domain(ok).is_ok(), "{ok}");
        }
        for bad in ["acme", "Billing.acme.com", "a..b", "a.b.", ".a.b", "a b.c"] {
            assert!(
                matches!(domain(bad), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn names() {
        assert!(name("Acme Inc.").is_ok());
        assert!(name(" ").is_err());
        assert!(name("a\nb").is_err());
        assert!(name(&"x".repeat(257)).is_err());
        assert!(key_name("ci").is_ok());
        assert!(matches!(
            key_name(""),
            Err(Error::InvalidInput {
                model: "ApiKey",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn a_valid_subdomain_is_a_valid_tenant_id(s in "[a-z0-9-]{1,63}") {
            if label(&s) {
                prop_assert!(crate::TenantId::new(&s).is_ok());
            }
        }
    }
}
