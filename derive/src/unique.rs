//! `#[bao(unique(name = "...", field = "..."))]`: parsing, checks, and the generated
//! `UNIQUES` constant and `find_by_<name>` functions.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Type};

/// One parsed `unique(..)`.
pub struct UniqueAttr {
    pub name: LitStr,
    pub field: (String, Span),
    pub span: Span,
}

/// Parses the inside of `unique(name = "by_email", field = "email")` (`field = email` also
/// works).
pub fn parse(meta: &ParseNestedMeta<'_>) -> syn::Result<UniqueAttr> {
    let span = meta.path.span();
    let mut name: Option<LitStr> = None;
    let mut field: Option<(String, Span)> = None;
    meta.parse_nested_meta(|inner| {
        let ispan = inner.path.span();
        if inner.path.is_ident("name") {
            if name.is_some() {
                return Err(syn::Error::new(ispan, "name is given twice"));
            }
            name = Some(inner.value()?.parse()?);
            Ok(())
        } else if inner.path.is_ident("field") {
            if field.is_some() {
                return Err(syn::Error::new(ispan, "field is given twice"));
            }
            let e: Expr = inner.value()?.parse()?;
            field = Some(match &e {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => (s.value(), s.span()),
                    other => return Err(syn::Error::new(other.span(), "expected a field name")),
                },
                Expr::Path(p) => match p.path.get_ident() {
                    Some(i) => (i.to_string(), i.span()),
                    None => return Err(syn::Error::new(p.span(), "expected a field name")),
                },
                Expr::Array(a) => {
                    return Err(syn::Error::new(
                        a.span(),
                        "a unique constraint covers one field",
                    ))
                }
                other => return Err(syn::Error::new(other.span(), "expected a field name")),
            });
            Ok(())
        } else {
            Err(inner.error("unknown unique option; expected name or field"))
        }
    })?;
    let name = name.ok_or_else(|| syn::Error::new(span, "unique needs name = \"...\""))?;
    let field = field.ok_or_else(|| syn::Error::new(span, "unique needs field = \"...\""))?;
    Ok(UniqueAttr { name, field, span })
}

/// What the model parser knows about a field, handed over so this module stays independent of it.
pub struct FieldRef {
    pub name: String,
    pub key_ty: Type,
    pub skipped: bool,
}

/// The generated pieces.
pub struct Uniques {
    /// Fields whose values must be encodable as key parts (`write_key_field` arms).
    pub field_ids: Vec<usize>,
    /// Compile-time checks (`KeyPart` bounds), blamed on the field's type.
    pub checks: Vec<TokenStream>,
    /// `const UNIQUES` inside `impl Model`.
    pub constant: TokenStream,
    /// `find_by_<name>` inside the inherent impl.
    pub functions: TokenStream,
}

/// Checks the constraints against the struct and generates their code.
///
/// `primary` holds the field indexes of the primary key, `ttl` the `#[bao(ttl)]` field.
pub fn expand(
    attrs: &[UniqueAttr],
    fields: &[FieldRef],
    primary: &[usize],
    ttl: Option<usize>,
    ttl_span: Option<Span>,
) -> syn::Result<Uniques> {
    let mut out = Uniques {
        field_ids: Vec::new(),
        checks: Vec::new(),
        constant: TokenStream::new(),
        functions: TokenStream::new(),
    };
    if attrs.is_empty() {
        return Ok(out);
    }
    if ttl.is_some() {
        return Err(syn::Error::new(
            ttl_span
                .or(attrs.first().map(|a| a.span))
                .unwrap_or_else(Span::call_site),
            "a model with #[bao(ttl)] cannot have unique constraints: DynamoDB's TTL deletes the \
             item but not its constraint items, which would then block the value forever",
        ));
    }
    let mut schemas = Vec::new();
    let mut functions = Vec::new();
    for (n, attr) in attrs.iter().enumerate() {
        let name = attr.name.value();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(syn::Error::new(
                attr.name.span(),
                "a unique constraint name must be a Rust identifier (letters, digits, `_`)",
            ));
        }
        let short = |n: &str| n.strip_prefix("by_").unwrap_or(n).to_owned();
        if attrs[..n]
            .iter()
            .any(|a| short(&a.name.value()) == short(&name))
        {
            return Err(syn::Error::new(
                attr.name.span(),
                "two unique constraints have this name (a leading `by_` does not count: both \
                 would generate the same find_by_ function)",
            ));
        }
        let (field_name, field_span) = &attr.field;
        let i = fields
            .iter()
            .position(|f| f.name == *field_name)
            .ok_or_else(|| {
                syn::Error::new(
                    *field_span,
                    format!("no field named `{field_name}` in this struct"),
                )
            })?;
        if attrs[..n].iter().any(|a| a.field.0 == *field_name) {
            return Err(syn::Error::new(
                *field_span,
                "this field already has a unique constraint",
            ));
        }
        let f = &fields[i];
        if primary.contains(&i) {
            return Err(syn::Error::new(
                *field_span,
                "this field is part of the primary key, which is unique already",
            ));
        }
        if f.skipped {
            return Err(syn::Error::new(
                *field_span,
                "a skipped or flattened field cannot have a unique constraint",
            ));
        }
        out.field_ids.push(i);
        let i_lit = proc_macro2::Literal::usize_unsuffixed(i);
        let n_lit = proc_macro2::Literal::usize_unsuffixed(n);
        let ty = &f.key_ty;
        out.checks
            .push(quote_spanned! {ty.span()=> ::dynabao::__private::assert_key_part::<#ty>(); });
        schemas.push(quote! {
            ::dynabao::__private::unique(#name, ::dynabao::__private::schema_field::<Self>(#i_lit))
        });
        let fname = format_ident!("find_by_{}", short(&name), span = attr.name.span());
        let arg = Ident::new("value", Span::call_site());
        let doc = format!(
            "The item whose `{}` is `{}` (unique constraint `{}`), or `None`.",
            f.name, f.name, name
        );
        functions.push(quote! {
            #[doc = #doc]
            pub fn #fname<'__a, __K>(db: &'__a ::dynabao::__private::Db, #arg: &__K) -> ::dynabao::__private::FindUnique<'__a, Self>
            where
                #ty: ::dynabao::__private::Borrow<__K>,
                __K: ::dynabao::__private::KeyPart + ?::core::marker::Sized,
            {
                ::dynabao::__private::FindUnique::new(db, #n_lit, #arg)
            }
        });
    }
    out.constant = quote! {
        const UNIQUES: &'static [::dynabao::__private::UniqueSchema] = &[#(#schemas),*];
    };
    out.functions = quote! { #(#functions)* };
    Ok(out)
}
