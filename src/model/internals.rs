//! The contract between `#[derive(Model)]` and the runtime, reachable only through
//! `dynabao::__private` (see `lib.rs`).
//!
//! Everything the generated code names is here or re-exported next to it: the constructors of
//! the schema types (whose fields are private, so users cannot forge a [`Field`] for `_pk` or
//! `_gsi1_pk`), [`ModelInternals`] (the supertrait that seals [`Model`] and holds what
//! operations call on an item: key-field encoding and managed fields), and small generic
//! helpers that keep the generated code thin. The derive writes no storage names: index names
//! and attributes come from the GSI number ([`index`]), the TTL attribute from [`ttl_field`].

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::{
    Field, FieldSchema, GeneratedId, IndexSchema, Iteration, Model, PrimaryKey, Schema,
    UniqueSchema,
};
use crate::key::TTL_ATTR;
use crate::key::{gsi_names, InvalidKeyPart, KeyPart, KeyWriter};
use crate::model::keys::KeyBuilder;
use crate::model::Key;

/// What `#[derive(Model)]` implements besides [`Model`]'s constants. A supertrait of
/// [`Model`], and only nameable as `dynabao::__private::ModelInternals`, so `Model` cannot be
/// implemented by hand and users cannot call these on their items.
pub trait ModelInternals: Sized {
    /// How the TTL field is represented, when there is one.
    const TTL_REPR: TtlRepr = TtlRepr::EpochSeconds;

    /// The fields that are part of any key (table, index or unique constraint), by Rust name,
    /// each with the function that encodes its stored value ([`write_key`], [`write_opt_key`]).
    const KEY_FIELDS: &'static [(&'static str, KeyFieldWriter)];

    /// The managed fields of this item.
    fn managed(&mut self) -> Managed<'_>;

    /// Encodes the stored value of the key field named `name` into `w`. Returns `Ok(false)`
    /// when the field is an `Option` holding `None` (or is absent), so the key half that uses it
    /// is not written.
    fn write_key_field(
        name: &str,
        value: Option<&AttributeValue>,
        w: &mut KeyWriter<'_>,
    ) -> Result<bool, InvalidKeyPart> {
        match Self::KEY_FIELDS.iter().find(|(n, _)| *n == name) {
            Some((_, write)) => write(value, w),
            None => Err(InvalidKeyPart(format!("{name} is not a key field"))),
        }
    }

    /// Fills what `create` manages: a nil `#[bao(auto)]` id, timestamps, version 1.
    fn prepare_create(&mut self, now: DateTime<Utc>) {
        let m = self.managed();
        fill_auto(m.auto);
        if let Some(f) = m.created_at {
            *f = now;
        }
        if let Some(f) = m.updated_at {
            *f = now;
        }
        if let Some(f) = m.version {
            *f = 1;
        }
    }

    /// Fills a nil `#[bao(auto)]` id and sets `updated_at` before a `put` or `replace`.
    fn touch(&mut self, now: DateTime<Utc>) {
        let m = self.managed();
        fill_auto(m.auto);
        if let Some(f) = m.updated_at {
            *f = now;
        }
    }

    /// The `#[bao(version)]` value.
    fn version(&mut self) -> Option<u64> {
        self.managed().version.map(|v| *v)
    }

    /// Sets the `#[bao(version)]` value.
    fn set_version(&mut self, version: u64) {
        if let Some(v) = self.managed().version {
            *v = version;
        }
    }
}

fn fill_auto(auto: Option<&mut dyn GeneratedId>) {
    if let Some(id) = auto {
        id.fill_if_nil();
    }
}

/// Mutable references to an item's managed fields, as [`ModelInternals::managed`] gives them.
#[derive(Default)]
pub struct Managed<'a> {
    /// `#[bao(auto)]`.
    pub auto: Option<&'a mut dyn GeneratedId>,
    /// `#[bao(created_at)]`.
    pub created_at: Option<&'a mut DateTime<Utc>>,
    /// `#[bao(updated_at)]`.
    pub updated_at: Option<&'a mut DateTime<Utc>>,
    /// `#[bao(version)]`.
    pub version: Option<&'a mut u64>,
}

/// Encodes one key field's stored value; see [`ModelInternals::KEY_FIELDS`].
pub type KeyFieldWriter =
    fn(Option<&AttributeValue>, &mut KeyWriter<'_>) -> Result<bool, InvalidKeyPart>;

/// The [`KeyFieldWriter`] of a field of type `T`.
pub fn write_key<T: KeyPart + DeserializeOwned>(
    value: Option<&AttributeValue>,
    w: &mut KeyWriter<'_>,
) -> Result<bool, InvalidKeyPart> {
    match value {
        Some(v) => {
            let x: T = decode(v)?;
            x.write_key(w)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The [`KeyFieldWriter`] of a field of type `Option<T>`: `None` writes nothing.
pub fn write_opt_key<T: KeyPart + DeserializeOwned>(
    value: Option<&AttributeValue>,
    w: &mut KeyWriter<'_>,
) -> Result<bool, InvalidKeyPart> {
    let decoded: Option<T> = match value {
        Some(v) => decode(v)?,
        None => None,
    };
    match decoded {
        Some(x) => {
            x.write_key(w)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

fn decode<T: DeserializeOwned>(v: &AttributeValue) -> Result<T, InvalidKeyPart> {
    serde_dynamo::from_attribute_value(v.clone()).map_err(|e| InvalidKeyPart(e.to_string()))
}

/// How a TTL field is represented in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlRepr {
    /// `DateTime<Utc>` or `Option<DateTime<Utc>>` (serialized by chrono as RFC 3339).
    DateTime,
    /// An integer already in epoch seconds.
    EpochSeconds,
}

/// Rust types a `#[bao(ttl)]` field may have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a #[bao(ttl)] field",
    note = "use DateTime<Utc>, Option<DateTime<Utc>>, or integer epoch seconds (i64, u64, or an Option of them)"
)]
pub trait TtlField {
    /// How the value is represented.
    const REPR: TtlRepr;
}
impl TtlField for DateTime<Utc> {
    const REPR: TtlRepr = TtlRepr::DateTime;
}
impl TtlField for i64 {
    const REPR: TtlRepr = TtlRepr::EpochSeconds;
}
impl TtlField for u64 {
    const REPR: TtlRepr = TtlRepr::EpochSeconds;
}
impl<T: TtlField> TtlField for Option<T> {
    const REPR: TtlRepr = T::REPR;
}

/// Holds when `T` can be a `#[bao(auto)]` field; generated code checks it with a clear message.
pub fn assert_generated_id<T: GeneratedId>() {}

/// Holds when `Self` and `T` are the same type; generated code uses it to check the types of
/// managed fields with a clear message.
#[diagnostic::on_unimplemented(
    message = "this field must be `{T}`, not `{Self}`",
    note = "#[bao(created_at)] and #[bao(updated_at)] need DateTime<Utc>, #[bao(version)] needs u64"
)]
pub trait SameType<T> {}
impl<T> SameType<T> for T {}

/// A field stored under the name serde gives it.
pub const fn field(name: &'static str, serialized: &'static str, optional: bool) -> FieldSchema {
    FieldSchema {
        name,
        attr: serialized,
        serialized,
        optional,
    }
}

/// The `#[bao(ttl)]` field, stored under the table's TTL attribute.
pub const fn ttl_field(
    name: &'static str,
    serialized: &'static str,
    optional: bool,
) -> FieldSchema {
    FieldSchema {
        name,
        attr: TTL_ATTR,
        serialized,
        optional,
    }
}

/// A secondary index on GSI `gsi`. The derive checks `gsi` is in `1..=GSI_COUNT`; another value
/// fails constant evaluation, at compile time.
pub const fn index(
    name: &'static str,
    gsi: u8,
    pk: &'static [FieldSchema],
    sk: &'static [FieldSchema],
) -> IndexSchema {
    let Some((index_name, pk_attr, sk_attr)) = gsi_names(gsi) else {
        panic!("a GSI number outside 1..=5 (the derive refuses it)");
    };
    IndexSchema {
        name,
        gsi,
        index_name,
        pk_attr,
        sk_attr,
        pk,
        sk,
    }
}

/// The iteration index of a `#[bao(iterable(gsi = .., buckets = ..))]` model.
pub const fn iteration(gsi: u8, buckets: u16) -> Iteration {
    Iteration {
        index: index("iteration", gsi, &[], &[]),
        buckets,
    }
}

/// A unique constraint on `field`.
pub const fn unique(name: &'static str, field: &'static FieldSchema) -> UniqueSchema {
    UniqueSchema { name, field }
}

/// Starts a [`Schema`]; the keys and optional parts are added by the [`SchemaBuilder`]'s
/// methods.
pub const fn schema(
    name: &'static str,
    prefix: &'static str,
    global: bool,
    fields: &'static [FieldSchema],
) -> SchemaBuilder {
    SchemaBuilder(Schema {
        name,
        prefix,
        global,
        pk: &[],
        sk: &[],
        indexes: &[],
        fields,
        created_at: None,
        updated_at: None,
        version: None,
        ttl: None,
        iteration: None,
    })
}

/// A [`Schema`] under construction, in constant evaluation.
pub struct SchemaBuilder(Schema);

impl SchemaBuilder {
    /// The partition key fields, in key order.
    pub const fn pk(mut self, pk: &'static [FieldSchema]) -> Self {
        self.0.pk = pk;
        self
    }

    /// The sort key fields, in key order (none: a fixed marker is stored).
    pub const fn sk(mut self, sk: &'static [FieldSchema]) -> Self {
        self.0.sk = sk;
        self
    }

    /// The secondary indexes.
    pub const fn indexes(mut self, indexes: &'static [IndexSchema]) -> Self {
        self.0.indexes = indexes;
        self
    }

    /// The `#[bao(created_at)]` field.
    pub const fn created_at(mut self, f: &'static FieldSchema) -> Self {
        self.0.created_at = Some(f);
        self
    }

    /// The `#[bao(updated_at)]` field.
    pub const fn updated_at(mut self, f: &'static FieldSchema) -> Self {
        self.0.updated_at = Some(f);
        self
    }

    /// The `#[bao(version)]` field.
    pub const fn version(mut self, f: &'static FieldSchema) -> Self {
        self.0.version = Some(f);
        self
    }

    /// The `#[bao(ttl)]` field.
    pub const fn ttl(mut self, f: &'static FieldSchema) -> Self {
        self.0.ttl = Some(f);
        self
    }

    /// The iteration index.
    pub const fn iteration(mut self, it: &'static Iteration) -> Self {
        self.0.iteration = Some(it);
        self
    }

    /// The finished schema.
    pub const fn build(self) -> Schema {
        self.0
    }
}

/// The typed constant for field number `i` of `M` (`User::EMAIL`).
pub const fn field_ref<M: Model, T>(i: usize) -> Field<M, T> {
    Field::new(&M::SCHEMA.fields[i])
}

/// The typed constant for field number `i` of `M` when it is a primary key field (`User::ID`).
pub const fn key_field_ref<M: Model, T>(i: usize) -> Field<M, T, PrimaryKey> {
    Field::new(&M::SCHEMA.fields[i])
}

/// The field number `i` of `M`'s schema, for unique constraints.
pub const fn schema_field<M: Model>(i: usize) -> &'static FieldSchema {
    &M::SCHEMA.fields[i]
}

/// Starts the key of an `M`; generated code pushes each key field in order.
pub fn key_builder<M: Model>() -> KeyBuilder<M> {
    Key::<M>::builder()
}

/// Compile-time check that a key field's type can be part of a key.
pub fn assert_key_part<T: KeyPart + ?Sized>() {}

/// The type of `#[bao(created_at)]` and `#[bao(updated_at)]` fields.
pub type Timestamp = DateTime<Utc>;

/// Compile-time check that a managed field has the type it needs.
pub fn assert_same<A: SameType<B>, B>() {}

/// Deserializes a present value (`null` included) as `Some`, so that with `#[serde(default)]`
/// an absent field is `None` and `null` is `Some(None)`: a patch's "remove this field".
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
