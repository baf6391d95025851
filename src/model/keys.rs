//! Keys of a model's items: the primary key from typed values, and every key attribute of a
//! stored item from its field values.

use std::marker::PhantomData;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Item};
use crate::key::StoredKey;
use crate::key::{KeyPart, KeyWriter};
use crate::key::{KeyScope, KeyValue, KeyValueBuilder};
use crate::key::{PK_ATTR, SK_ATTR};
use crate::model::{FieldSchema, IndexSchema, Model};

/// The primary key of one item of `M`, encoded but not yet scoped to a tenant.
///
/// Built by the generated `M::key(...)` from typed values, so it cannot hold a raw string.
pub struct Key<M> {
    pk: KeyValue,
    sk: KeyValue,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Key<M> {
    fn clone(&self) -> Self {
        Key {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Key<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("pk", &self.pk.as_encoded())
            .field("sk", &self.sk.as_encoded())
            .finish()
    }
}

impl<M> PartialEq for Key<M> {
    fn eq(&self, other: &Self) -> bool {
        self.pk == other.pk && self.sk == other.sk
    }
}
impl<M> Eq for Key<M> {}
impl<M> std::hash::Hash for Key<M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pk.hash(state);
        self.sk.hash(state);
    }
}

impl<M: Model> Key<M> {
    /// Starts a key; generated code pushes each key field in order.
    pub(crate) fn builder() -> KeyBuilder<M> {
        KeyBuilder {
            pk: KeyValueBuilder::new(),
            sk: KeyValueBuilder::new(),
            error: None,
            _model: PhantomData,
        }
    }

    /// The stored key in `scope`.
    pub(crate) fn stored(&self, scope: &KeyScope) -> StoredKey {
        self.erase().stored(scope)
    }

    /// The stored key as a DynamoDB `Key` map in `scope`.
    pub fn to_item(&self, scope: &KeyScope) -> Item {
        self.stored(scope).to_item()
    }
}

/// Builds a [`Key`] field by field, naming each field in errors. Only generated code makes
/// one; the first value that cannot be encoded is the error of [`build`](KeyBuilder::build).
#[doc(hidden)]
pub struct KeyBuilder<M> {
    pk: KeyValueBuilder,
    sk: KeyValueBuilder,
    error: Option<InvalidKey>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> KeyBuilder<M> {
    /// Appends a partition key field.
    pub fn pk<T: KeyPart + ?Sized>(mut self, field: &'static str, value: &T) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.pk.push(value) {
                self.error = Some(invalid(field, e));
            }
        }
        self
    }

    /// Appends a sort key field.
    pub fn sk<T: KeyPart + ?Sized>(mut self, field: &'static str, value: &T) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.sk.push(value) {
                self.error = Some(invalid(field, e));
            }
        }
        self
    }

    /// Only the partition half, for queries.
    pub fn partition(self) -> Result<KeyValue, InvalidKey> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.pk.finish()),
        }
    }

    /// The finished key.
    pub fn build(self) -> Result<Key<M>, InvalidKey> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(Key {
                pk: self.pk.finish(),
                sk: self.sk.finish(),
                _model: PhantomData,
            }),
        }
    }
}

/// A value that cannot be encoded into a key, with the field it was meant for. Kept by request
/// builders until the request is built, then reported as [`Error::InvalidKeyValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKey {
    /// The field.
    pub field: &'static str,
    /// Why its value cannot be a key part.
    pub reason: String,
}

impl From<InvalidKey> for Error {
    fn from(e: InvalidKey) -> Self {
        Error::InvalidKeyValue {
            field: e.field,
            reason: e.reason,
        }
    }
}

fn invalid(field: &'static str, e: crate::key::InvalidKeyPart) -> InvalidKey {
    InvalidKey { field, reason: e.0 }
}

/// Encodes one key half from stored field values. `Ok(None)` when an optional field is `None`:
/// the half is then not written (sparse index).
pub(crate) fn half_value<'v, M: Model>(
    fields: &'static [FieldSchema],
    lookup: impl Fn(&str) -> Option<&'v AttributeValue>,
) -> Result<Option<KeyValue>, Error> {
    let mut b = KeyValueBuilder::new();
    let mut buf = String::new();
    for f in fields {
        buf.clear();
        let present = M::write_key_field(f.name, lookup(f.attr), &mut KeyWriter::new(&mut buf))
            .map_err(|e| Error::from(invalid(f.name, e)))?;
        if !present {
            return Ok(None);
        }
        b.push_encoded(&buf);
    }
    Ok(Some(b.finish()))
}

/// The stored key strings of an item: `_pk`, `_sk` and every index key half whose fields are all
/// present. Returns `(attribute, value)` pairs; an index half that is absent is `None`, so
/// callers writing a whole item leave it out and updates can remove it.
pub(crate) fn item_keys<M: Model>(
    scope: &KeyScope,
    item: &Item,
) -> Result<Vec<(&'static str, Option<String>)>, Error> {
    let schema = M::SCHEMA;
    let lookup = |attr: &str| item.get(attr);
    let mut out = Vec::with_capacity(4 + 2 * schema.indexes.len());
    let mut primary = Vec::with_capacity(2);
    for (attr, fields) in [(PK_ATTR, schema.pk), (SK_ATTR, schema.sk)] {
        let value = half_value::<M>(fields, lookup)?.ok_or_else(|| Error::MalformedItem {
            model: schema.name,
            reason: format!("primary key field of {attr} is missing"),
        })?;
        out.push((attr, Some(scope.key(schema.prefix, &value))));
        primary.push(value);
    }
    if let (Some(iteration), [pk, sk]) = (schema.iteration, primary.as_slice()) {
        let bucket = iteration_bucket(pk, iteration.buckets);
        out.push((
            iteration.index.pk_attr,
            Some(scope.key(schema.prefix, &bucket)),
        ));
        let mut position = KeyValueBuilder::new();
        position.push_encoded(pk.as_encoded());
        position.push_encoded(sk.as_encoded());
        out.push((
            iteration.index.sk_attr,
            Some(scope.key(schema.prefix, &position.finish())),
        ));
    }
    for index in schema.indexes {
        for (attr, fields) in index_halves(index) {
            let value = half_value::<M>(fields, lookup)?;
            out.push((attr, value.map(|v| scope.key(schema.prefix, &v))));
        }
    }
    Ok(out)
}

/// The iteration-index partition of an item with partition key value `pk`: FNV-1a of the
/// encoded value, modulo the bucket count. Stable across processes and versions.
pub(crate) fn iteration_bucket(pk: &KeyValue, buckets: u16) -> KeyValue {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in pk.as_encoded().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    bucket_value(hash % u64::from(buckets.max(1)))
}

/// The iteration-index partition value of bucket `n`.
pub(crate) fn bucket_value(n: u64) -> KeyValue {
    let mut b = KeyValueBuilder::new();
    // A u64 always encodes.
    let _ = b.push(&n);
    b.finish()
}

/// The two halves of an index: `(attribute, fields)`.
pub(crate) fn index_halves(
    index: &'static IndexSchema,
) -> [(&'static str, &'static [FieldSchema]); 2] {
    [(index.pk_attr, index.pk), (index.sk_attr, index.sk)]
}

/// Checks that a stored item belongs to `scope` and model `M` ([invariant 5](crate#invariants)): both `_pk` and
/// `_sk` must start with `[tenant]#prefix#` (or `prefix#` for global keys).
pub(crate) fn check_item_scope<M: Model>(scope: &KeyScope, item: &Item) -> Result<(), Error> {
    let expected = scope.model_prefix(M::SCHEMA.prefix);
    let carries = |attr: &str| matches!(item.get(attr), Some(AttributeValue::S(s)) if s.starts_with(&expected));
    if carries(PK_ATTR) && carries(SK_ATTR) {
        Ok(())
    } else {
        Err(Error::CrossTenant {
            model: M::SCHEMA.name,
            expected,
        })
    }
}

/// Whether both primary key attributes of a stored item carry `scope`'s tenant (any model).
/// Global keys carry no tenant, so every item qualifies.
pub(crate) fn carries_tenant(scope: &KeyScope, item: &Item) -> bool {
    let prefix = scope.tenant_prefix();
    [PK_ATTR, SK_ATTR]
        .iter()
        .all(|a| matches!(item.get(*a), Some(AttributeValue::S(s)) if s.starts_with(&prefix)))
}

/// A primary key with its model erased (the model's prefix kept), for requests that span
/// several models: batches and transactions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ErasedKey {
    prefix: &'static str,
    pk: KeyValue,
    sk: KeyValue,
}

impl ErasedKey {
    /// The stored key in `scope`.
    pub(crate) fn stored(&self, scope: &KeyScope) -> StoredKey {
        StoredKey {
            pk: scope.key(self.prefix, &self.pk),
            sk: scope.key(self.prefix, &self.sk),
        }
    }

    /// The stored key as a DynamoDB `Key` map in `scope`.
    pub(crate) fn to_item(&self, scope: &KeyScope) -> Item {
        self.stored(scope).to_item()
    }
}

impl<M: Model> Key<M> {
    /// The key without its model type.
    pub(crate) fn erase(&self) -> ErasedKey {
        ErasedKey {
            prefix: M::SCHEMA.prefix,
            pk: self.pk.clone(),
            sk: self.sk.clone(),
        }
    }

    /// Reads a stored key of `M` in `scope` back into a key: the inverse of
    /// [`stored`](Key::stored). `None` unless both halves carry `scope`'s and `M`'s prefix and
    /// hold well-formed values, so a key of another tenant or model (or a constraint key) never
    /// comes back as a key of `M`.
    pub(crate) fn from_stored(scope: &KeyScope, pk: &str, sk: &str) -> Option<Key<M>> {
        Some(Key {
            pk: scope.strip(M::SCHEMA.prefix, pk)?,
            sk: scope.strip(M::SCHEMA.prefix, sk)?,
            _model: PhantomData,
        })
    }
}

/// The encoded value a unique constraint on `field` holds for an item whose attributes `lookup`
/// finds: `Ok(None)` when the field is an `Option` holding `None` (or absent), which claims
/// nothing.
pub(crate) fn unique_value<'v, M: Model>(
    field: &'static FieldSchema,
    lookup: impl Fn(&str) -> Option<&'v AttributeValue>,
) -> Result<Option<KeyValue>, Error> {
    half_value::<M>(std::slice::from_ref(field), lookup)
}

/// [`check_item_scope`] by schema, for code that holds items of several models.
pub(crate) fn check_item_scope_schema(
    scope: &KeyScope,
    schema: &crate::model::Schema,
    item: &Item,
) -> Result<(), Error> {
    let expected = scope.model_prefix(schema.prefix);
    let carries = |attr: &str| matches!(item.get(attr), Some(AttributeValue::S(s)) if s.starts_with(&expected));
    if carries(PK_ATTR) && carries(SK_ATTR) {
        Ok(())
    } else {
        Err(Error::CrossTenant {
            model: schema.name,
            expected,
        })
    }
}
