//! A test helper: no two models of the test program share a keyspace.

use crate::model::registry::{registered, shared_prefixes};
use crate::tenant::Tenancy;

/// Panics, naming every clash, when two models linked into this (test) program share a key
/// prefix in one keyspace, with tenancy on or off (see [`crate::model::registry`]).
///
/// [`Db::connect`](crate::Db::connect) and [`Db::create_table`](crate::Db::create_table) refuse
/// such a program with [`Error::DuplicatePrefix`](crate::Error::DuplicatePrefix) too; a test that
/// calls this says so by name, and reports every clash at once, tenancy off included.
///
/// ```
/// // In a test of the program's own models:
/// dynabao::testkit::assert_unique_prefixes();
/// ```
#[track_caller]
pub fn assert_unique_prefixes() {
    let mut clashes = Vec::new();
    for tenancy in [Tenancy::On, Tenancy::Off] {
        for shared in shared_prefixes(registered(), tenancy) {
            clashes.push(format!(
                "prefix {:?} (tenancy {tenancy:?}): {}",
                shared.prefix,
                shared.models.join(", ")
            ));
        }
    }
    assert!(
        clashes.is_empty(),
        "models share a key prefix, so each would read and overwrite the others' items:\n{}",
        clashes.join("\n")
    );
}
