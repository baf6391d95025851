//! The link-time registry of models, and the check that no two of them share a keyspace.
//!
//! `#[derive(Model)]` registers every model it expands (through the `inventory` crate), so the
//! program knows all of its models without a list kept by hand. Two models with the same prefix
//! would read and overwrite each other's items in silence (`B::find` returning an `A`), since
//! the stored key is `[tenant]#prefix#...` either way. [`shared_prefixes`] finds them;
//! [`Db::connect`](crate::Db::connect) and [`Db::create_table`](crate::Db::create_table) check
//! and fail with [`Error::DuplicatePrefix`], and tests can call
//! `dynabao::testkit::assert_unique_prefixes()` (feature `testkit`).
//!
//! # Which models clash
//!
//! Two models share a keyspace when their prefixes are equal and their keys have the same form:
//!
//! - two tenant models, or two `#[bao(global)]` models: always;
//! - a tenant model and a global one: only with tenancy off. With tenancy on a tenant model's
//!   keys start with `[tenant]#`, and a prefix cannot contain `[`, so they never meet a global
//!   model's `prefix#...` keys.
//!
//! A prefix is compared as written; different prefixes never clash (the `#` after the prefix
//! keeps `u` from matching `user`). One struct compiled twice (a source file included as a module
//! from two places) is one model, not two: registrations are identified by the place the derive
//! was written.

use crate::error::{Error, Item};
use crate::key::{KeyScope, StoredKey};
use crate::model::{Model, Schema};
use crate::tenant::Tenancy;

/// The stored keys of the unique-constraint items an item of one model holds.
type ConstraintKeys = fn(&KeyScope, &Item) -> Result<Vec<StoredKey>, Error>;

/// One model, as `#[derive(Model)]` registers it. Read it through [`registered`].
#[derive(Debug)]
pub struct Registration {
    /// The model's schema.
    pub schema: &'static Schema,
    /// The module the model was defined in (`module_path!()`).
    pub module: &'static str,
    file: &'static str,
    line: u32,
    column: u32,
    /// Finds the constraint items of a stored item without knowing its type, so a tenant's
    /// export can list them from their owners instead of scanning for them.
    constraint_keys: ConstraintKeys,
}

/// The constraint keys of a schema registered without its model (tests).
#[cfg(test)]
fn no_constraints(_: &KeyScope, _: &Item) -> Result<Vec<StoredKey>, Error> {
    Ok(Vec::new())
}

/// [`Registration::constraint_keys`] for model `M`.
fn constraint_keys_of<M: Model>(scope: &KeyScope, item: &Item) -> Result<Vec<StoredKey>, Error> {
    let mut out = Vec::with_capacity(M::UNIQUES.len());
    for u in M::UNIQUES {
        if let Some(value) = crate::model::unique_value::<M>(u.field, |a| item.get(a))? {
            let (pk, sk) = scope.unique_key(M::SCHEMA.prefix, u.name, &value);
            out.push(StoredKey { pk, sk });
        }
    }
    Ok(out)
}

impl Registration {
    /// A registration of a bare schema (no unique constraints), for tests of the clash check.
    #[cfg(test)]
    const fn new(
        schema: &'static Schema,
        module: &'static str,
        file: &'static str,
        line: u32,
        column: u32,
    ) -> Self {
        Registration::with(schema, module, (file, line, column), no_constraints)
    }

    /// Used by the derive.
    #[doc(hidden)]
    pub const fn of<M: Model>(
        module: &'static str,
        file: &'static str,
        line: u32,
        column: u32,
    ) -> Self {
        Registration::with(
            M::SCHEMA,
            module,
            (file, line, column),
            constraint_keys_of::<M>,
        )
    }

    const fn with(
        schema: &'static Schema,
        module: &'static str,
        (file, line, column): (&'static str, u32, u32),
        constraint_keys: ConstraintKeys,
    ) -> Self {
        Registration {
            schema,
            module,
            file,
            line,
            column,
            constraint_keys,
        }
    }

    /// The stored keys of the unique-constraint items `item` (an item of this model, stored in
    /// `scope`) holds.
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) fn constraint_keys(
        &self,
        scope: &KeyScope,
        item: &Item,
    ) -> Result<Vec<StoredKey>, Error> {
        (self.constraint_keys)(scope, item)
    }

    /// The model's path, `module::Name`, for messages.
    pub fn path(&self) -> String {
        format!("{}::{}", self.module, self.schema.name)
    }

    /// Whether two registrations come from the same struct definition.
    fn same_definition(&self, other: &Registration) -> bool {
        (self.file, self.line, self.column, self.schema.name)
            == (other.file, other.line, other.column, other.schema.name)
    }
}

inventory::collect!(Registration);

/// Every model linked into this program, in no particular order.
pub fn registered() -> impl Iterator<Item = &'static Registration> {
    inventory::iter::<Registration>.into_iter()
}

/// A set of models that share one keyspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPrefix {
    /// The prefix they share.
    pub prefix: &'static str,
    /// The models, as `module::Name`, sorted.
    pub models: Vec<String>,
}

/// Every keyspace that more than one model of `models` uses under `tenancy` (see the module
/// docs for which models clash), sorted by prefix.
pub fn shared_prefixes<'a>(
    models: impl IntoIterator<Item = &'a Registration>,
    tenancy: Tenancy,
) -> Vec<SharedPrefix> {
    // One entry per definition, keyed by (prefix, whether the keys carry a tenant).
    let mut distinct: Vec<&Registration> = Vec::new();
    for r in models {
        if !distinct.iter().any(|d| d.same_definition(r)) {
            distinct.push(r);
        }
    }
    let space = |r: &Registration| (r.schema.prefix, tenancy == Tenancy::On && !r.schema.global);
    distinct.sort_by_key(|r| (space(r), r.path()));
    let mut out: Vec<SharedPrefix> = Vec::new();
    for pair in distinct.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if space(a) != space(b) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.prefix == a.schema.prefix && last.models.contains(&a.path()) => {
                last.models.push(b.path());
            }
            _ => out.push(SharedPrefix {
                prefix: a.schema.prefix,
                models: vec![a.path(), b.path()],
            }),
        }
    }
    out
}

/// Checks that no two models linked into this program share a keyspace under `tenancy`.
///
/// Fails with [`Error::DuplicatePrefix`] naming the first clash (by prefix).
pub(crate) fn check_prefixes(tenancy: Tenancy) -> Result<(), Error> {
    match shared_prefixes(registered(), tenancy).into_iter().next() {
        None => Ok(()),
        Some(shared) => Err(Error::DuplicatePrefix {
            prefix: shared.prefix,
            models: shared.models,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Schema;

    const fn schema(name: &'static str, prefix: &'static str, global: bool) -> Schema {
        crate::model::internals::schema(name, prefix, global, &[]).build()
    }

    static A: Schema = schema("A", "x", false);
    static B: Schema = schema("B", "x", false);
    static C: Schema = schema("C", "y", false);
    static G: Schema = schema("G", "x", true);
    static H: Schema = schema("H", "y", true);

    fn reg(schema: &'static Schema, line: u32) -> Registration {
        Registration::new(schema, "m", "f.rs", line, 1)
    }

    #[test]
    fn equal_prefixes_of_one_key_form_clash() {
        let models = [reg(&A, 1), reg(&B, 2), reg(&C, 3)];
        assert_eq!(
            shared_prefixes(&models, Tenancy::On),
            vec![SharedPrefix {
                prefix: "x",
                models: vec!["m::A".into(), "m::B".into()],
            }]
        );
        // Three in one keyspace are one entry.
        let models = [reg(&A, 1), reg(&B, 2), reg(&G, 3)];
        let shared = shared_prefixes(&models, Tenancy::Off);
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].models, vec!["m::A", "m::B", "m::G"]);
    }

    #[test]
    fn global_and_tenant_models_clash_only_with_tenancy_off() {
        let models = [reg(&C, 1), reg(&H, 2)];
        assert!(shared_prefixes(&models, Tenancy::On).is_empty());
        assert_eq!(
            shared_prefixes(&models, Tenancy::Off)[0].models,
            vec!["m::C", "m::H"]
        );
        let models = [reg(&G, 1), reg(schema_static(), 2)];
        assert_eq!(shared_prefixes(&models, Tenancy::On).len(), 1);
    }

    fn schema_static() -> &'static Schema {
        static G2: Schema = schema("G2", "x", true);
        &G2
    }

    #[test]
    fn one_definition_compiled_twice_is_one_model() {
        let twice = [
            Registration::new(&A, "a::notes", "notes.rs", 7, 10),
            Registration::new(&A, "b::notes", "notes.rs", 7, 10),
        ];
        assert!(shared_prefixes(&twice, Tenancy::On).is_empty());
    }

    #[test]
    fn the_library_itself_has_no_clash() {
        assert!(check_prefixes(Tenancy::On).is_ok());
        assert!(check_prefixes(Tenancy::Off).is_ok());
    }
}
