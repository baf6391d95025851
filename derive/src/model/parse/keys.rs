//! The table key, the secondary indexes and the iteration index: field names resolved to field
//! indexes, and the checks that each key is well formed.

use proc_macro2::Span;
use syn::Ident;

use super::super::def::{FieldInfo, IndexDef, IterableDef};
use super::{err, marked};
use crate::attrs::{ContainerAttrs, NameList};

/// Resolves a list of field names to field indexes, blaming the name's span.
fn resolve(fields: &[FieldInfo], list: &NameList) -> syn::Result<Vec<usize>> {
    list.names
        .iter()
        .map(|(name, span)| {
            fields
                .iter()
                .position(|f| f.name() == *name)
                .ok_or_else(|| err(*span, format!("no field named `{name}` in this struct")))
        })
        .collect()
}

/// The table's partition and sort key fields.
///
/// Primary key fields: `#[bao(pk)]` on one field, or a composite `#[bao(pk = [...])]` (and the
/// same for `sk`).
pub fn primary_key(
    fields: &[FieldInfo],
    container: &ContainerAttrs,
    ident: &Ident,
) -> syn::Result<(Vec<usize>, Vec<usize>)> {
    let pk_marked = marked(fields, |a| a.pk);
    let sk_marked = marked(fields, |a| a.sk);
    if pk_marked.len() > 1 {
        let second = fields[pk_marked[1]]
            .attrs
            .pk
            .unwrap_or_else(Span::call_site);
        return Err(err(second, "two fields are marked #[bao(pk)]; for a composite partition key write #[bao(pk = [\"a\", \"b\"])] on the struct"));
    }
    if sk_marked.len() > 1 {
        let second = fields[sk_marked[1]]
            .attrs
            .sk
            .unwrap_or_else(Span::call_site);
        return Err(err(second, "two fields are marked #[bao(sk)]; for a composite sort key write #[bao(sk = [\"a\", \"b\"])] on the struct"));
    }
    let pk: Vec<usize> = match (&container.pk, pk_marked.first()) {
        (Some(_), Some(&i)) => {
            return Err(err(
                fields[i].attrs.pk.unwrap_or_else(Span::call_site),
                "the partition key is declared both on the struct and on a field",
            ))
        }
        (Some(list), None) => resolve(fields, list)?,
        (None, Some(&i)) => vec![i],
        (None, None) => {
            return Err(err(
                ident.span(),
                "a Model needs a partition key: mark a field #[bao(pk)]",
            ))
        }
    };
    let sk: Vec<usize> = match (&container.sk, sk_marked.first()) {
        (Some(_), Some(&i)) => {
            return Err(err(
                fields[i].attrs.sk.unwrap_or_else(Span::call_site),
                "the sort key is declared both on the struct and on a field",
            ))
        }
        (Some(list), None) => resolve(fields, list)?,
        (None, Some(&i)) => vec![i],
        (None, None) => vec![],
    };
    for &i in pk.iter().chain(&sk) {
        if pk.iter().chain(&sk).filter(|&&j| j == i).count() > 1 {
            return Err(err(
                fields[i].ident.span(),
                "a field can be in the primary key only once",
            ));
        }
    }
    Ok((pk, sk))
}

/// The secondary indexes, each on its own GSI and with a name usable in `query_<name>`.
pub fn indexes(fields: &[FieldInfo], container: &ContainerAttrs) -> syn::Result<Vec<IndexDef>> {
    let mut out = Vec::new();
    for (n, index) in container.indexes.iter().enumerate() {
        if let Some(prev) = container.indexes[..n]
            .iter()
            .find(|p| p.gsi_value == index.gsi_value)
        {
            return Err(err(
                index.gsi.span(),
                format!(
                    "gsi{} is already used by index \"{}\"; each index needs its own gsi",
                    index.gsi_value,
                    prev.name.value()
                ),
            ));
        }
        if container.indexes[..n]
            .iter()
            .any(|p| p.name.value() == index.name.value())
        {
            return Err(err(index.name.span(), "two indexes have this name"));
        }
        let name = index.name.value();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err(
                index.name.span(),
                "an index name must be a Rust identifier (letters, digits, `_`)",
            ));
        }
        let ipk = resolve(fields, &index.pk)?;
        let isk = match &index.sk {
            Some(l) => resolve(fields, l)?,
            None => vec![],
        };
        let _ = index.span;
        out.push(IndexDef {
            name,
            name_span: index.name.span(),
            gsi: index.gsi_value,
            pk: ipk,
            sk: isk,
        });
    }
    Ok(out)
}

/// The iteration index, which must not share its GSI with a declared index.
pub fn iterable(container: &ContainerAttrs) -> syn::Result<Option<IterableDef>> {
    let Some(it) = &container.iterable else {
        return Ok(None);
    };
    if let Some(index) = container
        .indexes
        .iter()
        .find(|i| i.gsi_value == it.gsi_value)
    {
        return Err(err(
            it.gsi.span(),
            format!(
                "gsi{} is already used by index \"{}\"; the iteration index needs its own gsi",
                it.gsi_value,
                index.name.value()
            ),
        ));
    }
    Ok(Some(IterableDef {
        gsi: it.gsi_value,
        buckets: it.buckets,
    }))
}
