//! Turns the derive input and its `#[bao]` / `#[serde]` attributes into a validated
//! [`ModelDef`].
//!
//! All of the derive's own errors come from here. The checks run in a fixed order, so a struct
//! with several mistakes always reports the same one first; the compile-fail cases in
//! `tests/ui` pin those messages and spans.

mod keys;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, FieldsNamed, GenericArgument, Ident, PathArguments, Type};

use self::keys::{indexes, iterable, primary_key};
use super::def::{FieldInfo, IndexDef, Managed, ModelDef};
use crate::attrs::{self, ContainerAttrs, FieldAttrs};

/// Parses and checks the whole struct.
pub fn parse(input: &DeriveInput) -> syn::Result<ModelDef> {
    let ident = &input.ident;
    let named = named_fields(input)?;
    let container = attrs::container(&input.attrs)?;
    let prefix = prefix(&container, ident)?;
    check_container_names(&container)?;
    let fields = fields(named, &container)?;
    let (pk, sk) = primary_key(&fields, &container, ident)?;
    let indexes = indexes(&fields, &container)?;
    let iterable = iterable(&container)?;
    let managed = managed(&fields)?;
    let uniques = uniques(&fields, &container, &pk, &sk, managed.ttl)?;
    check_managed(&fields, &pk, &sk, &indexes, &managed)?;
    Ok(ModelDef {
        ident: ident.clone(),
        vis: input.vis.clone(),
        patch: container.patch,
        new: container.new,
        prefix,
        global: container.global,
        fields,
        pk,
        sk,
        indexes,
        managed,
        iterable,
        uniques,
    })
}

/// Shorthand for the errors below.
fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// The indexes of the fields where `get` finds a marker attribute.
fn marked(fields: &[FieldInfo], get: fn(&FieldAttrs) -> Option<Span>) -> Vec<usize> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, f)| get(&f.attrs).is_some())
        .map(|(i, _)| i)
        .collect()
}

/// The struct's named fields; rejects generics, enums, unions and tuple structs.
fn named_fields(input: &DeriveInput) -> syn::Result<&FieldsNamed> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(err(input.generics.span(), "a Model cannot be generic"));
    }
    let Data::Struct(data) = &input.data else {
        return Err(err(
            ident.span(),
            "Model can only be derived for structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(err(
            ident.span(),
            "Model can only be derived for structs with named fields",
        ));
    };
    Ok(named)
}

/// The key prefix: compile-time checked (invariant 4 of the `dynabao` crate docs).
fn prefix(container: &ContainerAttrs, ident: &Ident) -> syn::Result<String> {
    let prefix_lit = container.prefix.clone().ok_or_else(|| {
        err(
            ident.span(),
            "a Model needs a key prefix: #[bao(prefix = \"...\")]",
        )
    })?;
    let prefix = prefix_lit.value();
    if prefix.is_empty() {
        return Err(err(prefix_lit.span(), "the prefix must not be empty"));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| matches!(c, '#' | '[' | ']') || c.is_whitespace() || c.is_control())
    {
        return Err(err(
            prefix_lit.span(),
            format!("the prefix must not contain {c:?}: `#`, `[`, `]`, whitespace and control characters are reserved by the key layout"),
        ));
    }
    Ok(prefix)
}

/// Each field with its attributes and stored names, in declaration order.
fn fields(named: &FieldsNamed, container: &ContainerAttrs) -> syn::Result<Vec<FieldInfo>> {
    let rename_rule = container.rename_all.as_ref().map(|l| l.value());
    let mut fields = Vec::new();
    for f in &named.named {
        let Some(fident) = f.ident.clone() else {
            continue;
        };
        let fattrs = attrs::field(&f.attrs)?;
        let raw = fident.to_string().trim_start_matches("r#").to_owned();
        let serialized = match (&fattrs.rename, &rename_rule) {
            (Some(r), _) => r.clone(),
            (None, Some(rule)) => attrs::rename_all(rule, &raw).ok_or_else(|| {
                err(
                    container
                        .rename_all
                        .as_ref()
                        .map_or(Span::call_site(), |l| l.span()),
                    format!("unsupported rename_all rule {rule:?}"),
                )
            })?,
            (None, None) => raw.clone(),
        };
        // The reserved set is defined once, by `dynabao::key::is_reserved_attr`: every
        // top-level name beginning with `_`. Writes check what a value really serializes; this
        // catches at compile time what the struct itself names.
        for (name, span) in &fattrs.serde_names {
            if name.starts_with(RESERVED_MARK) {
                return Err(reserved(*span, name));
            }
        }
        if serialized.starts_with(RESERVED_MARK) {
            return Err(reserved(fident.span(), &serialized));
        }
        fields.push(FieldInfo {
            inner: option_inner(&f.ty),
            ty: f.ty.clone(),
            ident: fident,
            serialized,
            attrs: fattrs,
        });
    }
    Ok(fields)
}

/// The first character of the attribute names dynabao reserves (`dynabao::key::RESERVED_ATTR_MARK`).
const RESERVED_MARK: char = '_';

fn reserved(span: Span, name: &str) -> syn::Error {
    err(
        span,
        format!(
            "the stored name `{name}` is reserved: attribute names beginning with `_` belong to dynabao (keys, indexes, `_ttl`)"
        ),
    )
}

/// Checks the container's serde attributes that add a stored name (`tag`).
fn check_container_names(container: &ContainerAttrs) -> syn::Result<()> {
    if let Some(tag) = &container.tag {
        if tag.value().starts_with(RESERVED_MARK) {
            return Err(reserved(tag.span(), &tag.value()));
        }
    }
    Ok(())
}

/// `T` when `ty` is written `Option<T>` (by any path ending in `Option`).
fn option_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// The managed fields, at most one of each kind.
fn managed(fields: &[FieldInfo]) -> syn::Result<Managed> {
    let one = |get: fn(&FieldAttrs) -> Option<Span>, what: &str| -> syn::Result<Option<usize>> {
        let marked = marked(fields, get);
        if marked.len() > 1 {
            return Err(err(
                get(&fields[marked[1]].attrs).unwrap_or_else(Span::call_site),
                format!("only one field can be #[bao({what})]"),
            ));
        }
        Ok(marked.first().copied())
    };
    Ok(Managed {
        auto: one(|a| a.auto, "auto")?,
        created_at: one(|a| a.created_at, "created_at")?,
        updated_at: one(|a| a.updated_at, "updated_at")?,
        version: one(|a| a.version, "version")?,
        ttl: one(|a| a.ttl, "ttl")?,
    })
}

/// Checks the unique constraints and generates their pieces (see `crate::unique`).
fn uniques(
    fields: &[FieldInfo],
    container: &ContainerAttrs,
    pk: &[usize],
    sk: &[usize],
    ttl: Option<usize>,
) -> syn::Result<crate::unique::Uniques> {
    let unique_refs: Vec<crate::unique::FieldRef> = fields
        .iter()
        .map(|f| crate::unique::FieldRef {
            name: f.name(),
            key_ty: f.key_type().clone(),
            skipped: f.attrs.skipped.is_some(),
        })
        .collect();
    let primary_ids: Vec<usize> = pk.iter().chain(sk).copied().collect();
    crate::unique::expand(
        &container.uniques,
        &unique_refs,
        &primary_ids,
        ttl,
        ttl.and_then(|i| fields[i].attrs.ttl),
    )
}

/// Where managed fields may sit: auto in the key; none skipped; ttl, version and updated_at
/// outside the primary key.
fn check_managed(
    fields: &[FieldInfo],
    pk: &[usize],
    sk: &[usize],
    indexes: &[IndexDef],
    managed: &Managed,
) -> syn::Result<()> {
    let Managed {
        auto,
        created_at,
        updated_at,
        version,
        ttl,
    } = *managed;
    if let Some(i) = auto {
        if !pk.contains(&i) && !sk.contains(&i) {
            return Err(err(
                fields[i].attrs.auto.unwrap_or_else(Span::call_site),
                "#[bao(auto)] belongs on a primary key field",
            ));
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if let Some(span) = f.attrs.skipped {
            let in_key = pk.contains(&i)
                || sk.contains(&i)
                || indexes
                    .iter()
                    .any(|index| index.pk.contains(&i) || index.sk.contains(&i));
            if in_key || [created_at, updated_at, version, ttl].contains(&Some(i)) {
                return Err(err(
                    span,
                    "a key or managed field cannot be skipped or flattened",
                ));
            }
        }
    }
    for &i in pk.iter().chain(sk) {
        if ttl == Some(i) || version == Some(i) || updated_at == Some(i) {
            return Err(err(
                fields[i].ident.span(),
                "a managed field (ttl, version, updated_at) cannot be part of the primary key",
            ));
        }
    }
    Ok(())
}
