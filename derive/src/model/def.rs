//! The validated model that [`super::parse`] produces and the code generators read.
//!
//! Fields are referred to by their index in [`ModelDef::fields`], so keys, indexes and managed
//! fields can share a field without cloning it.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, Type};

use crate::attrs::FieldAttrs;
use crate::unique::Uniques;

/// A struct that passed every check of `#[derive(Model)]`.
pub struct ModelDef {
    pub ident: Ident,
    /// The struct's visibility, which a generated patch type shares.
    pub vis: syn::Visibility,
    /// `#[bao(patch)]`.
    pub patch: bool,
    /// `#[bao(new)]`.
    pub new: bool,
    /// The key prefix, already checked against the characters the key layout reserves.
    pub prefix: String,
    pub global: bool,
    pub fields: Vec<FieldInfo>,
    /// Partition key fields, in key order.
    pub pk: Vec<usize>,
    /// Sort key fields, in key order; empty when the table key has no sort part.
    pub sk: Vec<usize>,
    pub indexes: Vec<IndexDef>,
    pub managed: Managed,
    pub iterable: Option<IterableDef>,
    /// The unique constraints, checked and generated while parsing (see `crate::unique`).
    pub uniques: Uniques,
}

impl ModelDef {
    /// The table's primary key fields: the partition key, then the sort key.
    pub fn primary(&self) -> Vec<usize> {
        self.pk.iter().chain(&self.sk).copied().collect()
    }

    /// The names of the field-table constants (`F0`, ..) of these fields, in order.
    pub fn table_refs(&self, ids: &[usize]) -> Vec<Ident> {
        ids.iter().map(|&i| table_ref(i)).collect()
    }
}

/// The name of field `i`'s constant in the generated field table.
pub fn table_ref(i: usize) -> Ident {
    quote::format_ident!("F{}", i)
}

/// The fields dynabao fills in or reads itself; at most one of each.
pub struct Managed {
    /// `#[bao(auto)]`: a `Ulid` key field generated when it is nil.
    pub auto: Option<usize>,
    pub created_at: Option<usize>,
    pub updated_at: Option<usize>,
    /// `#[bao(version)]`: the optimistic-locking counter.
    pub version: Option<usize>,
    pub ttl: Option<usize>,
}

/// One `#[bao(index(...))]`, with its key fields resolved.
pub struct IndexDef {
    pub name: String,
    /// The span of the name literal, which `query_<name>` is blamed on.
    pub name_span: Span,
    pub gsi: u8,
    pub pk: Vec<usize>,
    pub sk: Vec<usize>,
}

/// `#[bao(iterable(...))]`: the per-tenant iteration index.
pub struct IterableDef {
    pub gsi: u8,
    pub buckets: u16,
}

/// One named field of the struct.
pub struct FieldInfo {
    pub ident: Ident,
    pub ty: Type,
    /// `T` when the type is `Option<T>`.
    pub inner: Option<Type>,
    /// The name serde writes: after `#[serde(rename)]` or `rename_all`. The stored attribute
    /// name is the same, except for the TTL field, which the runtime stores under its own name.
    pub serialized: String,
    pub attrs: FieldAttrs,
}

impl FieldInfo {
    /// The Rust field name without a raw-identifier `r#`, as users write it in attributes.
    pub fn name(&self) -> String {
        self.ident.to_string().trim_start_matches("r#").to_owned()
    }

    /// The `FieldSchema` expression describing this field (`__p` is `::dynabao::__private`).
    pub fn schema(&self) -> TokenStream {
        let name = self.name();
        let serialized = &self.serialized;
        let optional = self.inner.is_some();
        let ctor = if self.attrs.ttl.is_some() {
            quote!(ttl_field)
        } else {
            quote!(field)
        };
        quote! { __p::#ctor(#name, #serialized, #optional) }
    }

    /// The type a key value is given as: the inner type of an `Option`.
    pub fn key_type(&self) -> &Type {
        self.inner.as_ref().unwrap_or(&self.ty)
    }
}
