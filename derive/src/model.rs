//! `#[derive(Model)]`: the schema, field constants, key functions and typed entry points.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

use crate::attrs::{self, FieldAttrs, NameList};

struct FieldInfo {
    ident: Ident,
    ty: Type,
    /// `T` when the type is `Option<T>`.
    inner: Option<Type>,
    serialized: String,
    attr: String,
    attrs: FieldAttrs,
}

impl FieldInfo {
    fn name(&self) -> String {
        self.ident.to_string().trim_start_matches("r#").to_owned()
    }

    fn schema(&self) -> TokenStream {
        let name = self.name();
        let attr = &self.attr;
        let serialized = &self.serialized;
        let optional = self.inner.is_some();
        quote! {
            ::dynabao::model::FieldSchema { name: #name, attr: #attr, serialized: #serialized, optional: #optional }
        }
    }

    /// The type a key value is given as: the inner type of an `Option`.
    fn key_type(&self) -> &Type {
        self.inner.as_ref().unwrap_or(&self.ty)
    }
}

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

fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

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

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
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
    let container = attrs::container(&input.attrs)?;

    // The prefix: compile-time checked (invariant 4).
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
        let attr = if fattrs.ttl.is_some() {
            "_ttl".to_owned()
        } else {
            serialized.clone()
        };
        if attr.starts_with("_pk")
            || attr.starts_with("_sk")
            || attr.starts_with("_gsi")
            || (attr == "_ttl" && fattrs.ttl.is_none())
        {
            return Err(err(
                fident.span(),
                format!("the stored name `{attr}` is reserved for dynabao's key attributes"),
            ));
        }
        fields.push(FieldInfo {
            inner: option_inner(&f.ty),
            ty: f.ty.clone(),
            ident: fident,
            serialized,
            attr,
            attrs: fattrs,
        });
    }

    // Primary key fields: `#[bao(pk)]` on one field, or a composite `#[bao(pk = [...])]`.
    let pk_marked: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.attrs.pk.is_some())
        .map(|(i, _)| i)
        .collect();
    let sk_marked: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.attrs.sk.is_some())
        .map(|(i, _)| i)
        .collect();
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
        (Some(list), None) => resolve(&fields, list)?,
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
        (Some(list), None) => resolve(&fields, list)?,
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

    // Indexes.
    let mut index_fields = Vec::new();
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
        let ipk = resolve(&fields, &index.pk)?;
        let isk = match &index.sk {
            Some(l) => resolve(&fields, l)?,
            None => vec![],
        };
        let _ = index.span;
        index_fields.push((ipk, isk));
    }

    if let Some(it) = &container.iterable {
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
    }

    // Managed fields.
    let one = |get: fn(&FieldAttrs) -> Option<Span>, what: &str| -> syn::Result<Option<usize>> {
        let marked: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| get(&f.attrs).is_some())
            .map(|(i, _)| i)
            .collect();
        if marked.len() > 1 {
            return Err(err(
                get(&fields[marked[1]].attrs).unwrap_or_else(Span::call_site),
                format!("only one field can be #[bao({what})]"),
            ));
        }
        Ok(marked.first().copied())
    };
    let auto = one(|a| a.auto, "auto")?;
    let created_at = one(|a| a.created_at, "created_at")?;
    let updated_at = one(|a| a.updated_at, "updated_at")?;
    let version = one(|a| a.version, "version")?;
    let ttl = one(|a| a.ttl, "ttl")?;
    let unique_refs: Vec<crate::unique::FieldRef> = fields
        .iter()
        .map(|f| crate::unique::FieldRef {
            name: f.name(),
            key_ty: f.key_type().clone(),
            schema: f.schema(),
            skipped: f.attrs.skipped.is_some(),
        })
        .collect();
    let primary_ids: Vec<usize> = pk.iter().chain(&sk).copied().collect();
    let uniques = crate::unique::expand(
        &container.uniques,
        &unique_refs,
        &primary_ids,
        ttl,
        ttl.and_then(|i| fields[i].attrs.ttl),
    )?;
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
                || index_fields
                    .iter()
                    .any(|(a, b)| a.contains(&i) || b.contains(&i));
            if in_key || [created_at, updated_at, version, ttl].contains(&Some(i)) {
                return Err(err(
                    span,
                    "a key or managed field cannot be skipped or flattened",
                ));
            }
        }
    }
    for &i in pk.iter().chain(&sk) {
        if ttl == Some(i) || version == Some(i) || updated_at == Some(i) {
            return Err(err(
                fields[i].ident.span(),
                "a managed field (ttl, version, updated_at) cannot be part of the primary key",
            ));
        }
    }

    // Compile-time type checks, each blamed on the field's type.
    let mut checks = uniques.checks.clone();
    for &i in pk.iter().chain(&sk) {
        let ty = &fields[i].ty;
        checks.push(quote_spanned! {ty.span()=> __dynabao_key_part::<#ty>(); });
    }
    for (ipk, isk) in &index_fields {
        for &i in ipk.iter().chain(isk) {
            let ty = fields[i].key_type();
            checks.push(quote_spanned! {ty.span()=> __dynabao_key_part::<#ty>(); });
        }
    }
    let typed = |i: Option<usize>, want: TokenStream| -> Option<TokenStream> {
        i.map(|i| {
            let ty = &fields[i].ty;
            quote_spanned! {ty.span()=> __dynabao_same::<#ty, #want>(); }
        })
    };
    checks.extend(typed(auto, quote!(::dynabao::__private::Ulid)));
    checks.extend(typed(
        created_at,
        quote!(::dynabao::__private::DateTime<::dynabao::__private::Utc>),
    ));
    checks.extend(typed(
        updated_at,
        quote!(::dynabao::__private::DateTime<::dynabao::__private::Utc>),
    ));
    checks.extend(typed(version, quote!(u64)));
    let ttl_repr = match ttl {
        Some(i) => {
            let ty = &fields[i].ty;
            quote_spanned! {ty.span()=> <#ty as ::dynabao::model::TtlField>::REPR }
        }
        None => quote!(::dynabao::model::TtlRepr::EpochSeconds),
    };

    // The schema.
    let ident_str = ident.to_string();
    let global = container.global;
    let schemas =
        |ids: &[usize]| -> Vec<TokenStream> { ids.iter().map(|&i| fields[i].schema()).collect() };
    let pk_schema = schemas(&pk);
    let sk_schema = schemas(&sk);
    let all_schema: Vec<TokenStream> = fields.iter().map(FieldInfo::schema).collect();
    let opt_schema = |i: Option<usize>| match i {
        Some(i) => {
            let s = fields[i].schema();
            quote!(::core::option::Option::Some(&#s))
        }
        None => quote!(::core::option::Option::None),
    };
    let created_schema = opt_schema(created_at);
    let updated_schema = opt_schema(updated_at);
    let version_schema = opt_schema(version);
    let ttl_schema = opt_schema(ttl);
    let iteration_schema = match &container.iterable {
        Some(it) => {
            let gsi = it.gsi_value;
            let buckets = it.buckets;
            let index_name = format!("gsi{gsi}");
            let pk_attr = format!("_gsi{gsi}_pk");
            let sk_attr = format!("_gsi{gsi}_sk");
            quote! {
                ::core::option::Option::Some(&::dynabao::model::Iteration {
                    index: ::dynabao::model::IndexSchema {
                        name: "iteration", gsi: #gsi, index_name: #index_name, pk_attr: #pk_attr, sk_attr: #sk_attr,
                        pk: &[], sk: &[],
                    },
                    buckets: #buckets,
                })
            }
        }
        None => quote!(::core::option::Option::None),
    };
    let iterate_fn = container.iterable.as_ref().map(|_| {
        quote! {
            /// Every item of this model in the current tenant, read bucket by bucket from the
            /// iteration index (no table scan).
            pub fn iterate<'__a>(db: &'__a ::dynabao::Db) -> ::dynabao::ops::Iterate<'__a, Self> {
                ::dynabao::ops::Iterate::new(db)
            }
        }
    });
    let index_schema: Vec<TokenStream> = container
        .indexes
        .iter()
        .zip(&index_fields)
        .map(|(index, (ipk, isk))| {
            let name = index.name.value();
            let gsi = index.gsi_value;
            let index_name = format!("gsi{gsi}");
            let pk_attr = format!("_gsi{gsi}_pk");
            let sk_attr = format!("_gsi{gsi}_sk");
            let p = schemas(ipk);
            let s = schemas(isk);
            quote! {
                ::dynabao::model::IndexSchema {
                    name: #name, gsi: #gsi, index_name: #index_name, pk_attr: #pk_attr, sk_attr: #sk_attr,
                    pk: &[#(#p),*], sk: &[#(#s),*],
                }
            }
        })
        .collect();

    // write_key_field: one arm per field that is part of any key.
    let mut key_field_ids: Vec<usize> = pk.iter().chain(&sk).copied().collect();
    for (ipk, isk) in &index_fields {
        key_field_ids.extend(ipk.iter().chain(isk));
    }
    key_field_ids.extend(&uniques.field_ids);
    key_field_ids.sort_unstable();
    key_field_ids.dedup();
    let key_arms = key_field_ids.iter().map(|&i| {
        let f = &fields[i];
        let attr = &f.attr;
        let ty = &f.ty;
        let value = quote! {
            ::dynabao::__private::from_attribute_value::<_, #ty>(__v.clone())
                .map_err(|e| ::dynabao::key::InvalidKeyPart(e.to_string()))?
        };
        if f.inner.is_some() {
            quote! {
                #attr => {
                    let __decoded: #ty = match __value {
                        ::core::option::Option::Some(__v) => #value,
                        ::core::option::Option::None => ::core::option::Option::None,
                    };
                    match __decoded {
                        ::core::option::Option::Some(__x) => {
                            ::dynabao::KeyPart::write_key(&__x, __w)?;
                            ::core::result::Result::Ok(true)
                        }
                        ::core::option::Option::None => ::core::result::Result::Ok(false),
                    }
                }
            }
        } else {
            quote! {
                #attr => match __value {
                    ::core::option::Option::Some(__v) => {
                        let __x: #ty = #value;
                        ::dynabao::KeyPart::write_key(&__x, __w)?;
                        ::core::result::Result::Ok(true)
                    }
                    ::core::option::Option::None => ::core::result::Result::Ok(false),
                }
            }
        }
    });

    let field_ident = |i: Option<usize>| i.map(|i| fields[i].ident.clone());
    let auto_fill = field_ident(auto).map(|f| {
        quote! {
            if self.#f == ::dynabao::__private::Ulid::nil() {
                self.#f = ::dynabao::__private::Ulid::new();
            }
        }
    });
    let set_created = field_ident(created_at).map(|f| quote! { self.#f = __now; });
    let set_updated = field_ident(updated_at).map(|f| quote! { self.#f = __now; });
    let set_version_one = field_ident(version).map(|f| quote! { self.#f = 1; });
    let (get_version, set_version) = match field_ident(version) {
        Some(f) => (
            quote! { ::core::option::Option::Some(self.#f) },
            quote! { self.#f = __version; },
        ),
        None => (
            quote! { ::core::option::Option::None },
            quote! { let _ = __version; },
        ),
    };

    // Field constants.
    let consts = fields.iter().map(|f| {
        let name = format_ident!("{}", f.name().to_uppercase(), span = f.ident.span());
        let ty = &f.ty;
        let schema = f.schema();
        let doc = format!(
            "The `{}` field, for typed conditions and updates.",
            f.name()
        );
        quote! {
            #[doc = #doc]
            pub const #name: ::dynabao::Field<#ident, #ty> = ::dynabao::Field::new(&#schema);
        }
    });

    // Typed key arguments: `&K` where the field type borrows as `K` (`&str` for `String`).
    let key_args = |ids: &[usize], tag: &str| -> (Vec<Ident>, Vec<TokenStream>, Vec<TokenStream>) {
        let mut generics = Vec::new();
        let mut params = Vec::new();
        let mut bounds = Vec::new();
        for (n, &i) in ids.iter().enumerate() {
            let f = &fields[i];
            let g = format_ident!("__K{}{}", tag, n);
            let arg = f.ident.clone();
            let ty = f.key_type();
            params.push(quote! { #arg: &#g });
            bounds.push(quote! { #ty: ::core::borrow::Borrow<#g>, #g: ::dynabao::KeyPart + ?::core::marker::Sized });
            generics.push(g);
        }
        (generics, params, bounds)
    };
    let pk_sk: Vec<usize> = pk.iter().chain(&sk).copied().collect();
    let (kg, kp, kb) = key_args(&pk_sk, "");
    let key_pushes = pk_sk.iter().map(|&i| {
        let arg = &fields[i].ident;
        let name = fields[i].name();
        let method = if pk.contains(&i) {
            quote!(pk)
        } else {
            quote!(sk)
        };
        quote! { let __b = __b.#method(#name, #arg)?; }
    });
    let key_arg_names: Vec<&Ident> = pk_sk.iter().map(|&i| &fields[i].ident).collect();

    // The Rust type of a sort key: its field's type, a tuple for a composite key, or none.
    let sort_key_type = |ids: &[usize]| -> TokenStream {
        match ids {
            [] => quote!(::dynabao::ops::query::NoSortKey),
            [one] => {
                let ty = fields[*one].key_type();
                quote!(#ty)
            }
            many => {
                let tys = many.iter().map(|&i| fields[i].key_type());
                quote!((#(#tys),*))
            }
        }
    };
    let table_sk_type = sort_key_type(&sk);

    let partition_query = if sk.is_empty() {
        quote! {}
    } else {
        let (g, p, b) = key_args(&pk, "");
        let pushes = pk.iter().map(|&i| {
            let arg = &fields[i].ident;
            let name = fields[i].name();
            quote! { let __b = __b.pk(#name, #arg)?; }
        });
        quote! {
            /// Every item in one partition of the table, in sort-key order.
            pub fn query<'__a, #(#g),*>(db: &'__a ::dynabao::Db, #(#p),*) -> ::dynabao::ops::Query<'__a, Self, #table_sk_type>
            where #(#b),*
            {
                let __part = (|| {
                    let __b = ::dynabao::Key::<Self>::builder();
                    #(#pushes)*
                    ::core::result::Result::Ok(__b.partition())
                })();
                ::dynabao::ops::Query::table(db, __part)
            }
        }
    };

    let index_queries = container.indexes.iter().zip(&index_fields).enumerate().map(|(n, (index, (ipk, isk)))| {
        let index_sk_type = sort_key_type(isk);
        let fname = format_ident!("query_{}", index.name.value(), span = index.name.span());
        let (g, p, b) = key_args(ipk, "");
        let pushes = ipk.iter().map(|&i| {
            let arg = &fields[i].ident;
            let name = fields[i].name();
            quote! { let __b = __b.pk(#name, #arg)?; }
        });
        let doc = format!("Items whose `{}` index partition key matches, in index sort-key order.", index.name.value());
        quote! {
            #[doc = #doc]
            pub fn #fname<'__a, #(#g),*>(db: &'__a ::dynabao::Db, #(#p),*) -> ::dynabao::ops::Query<'__a, Self, #index_sk_type>
            where #(#b),*
            {
                let __part = (|| {
                    let __b = ::dynabao::Key::<Self>::builder();
                    #(#pushes)*
                    ::core::result::Result::Ok(__b.partition())
                })();
                ::dynabao::ops::Query::index(db, &<Self as ::dynabao::Model>::SCHEMA.indexes[#n], __part)
            }
        }
    });

    let unique_const = &uniques.constant;
    let unique_fns = &uniques.functions;
    Ok(quote! {
        const _: () = {
            #[allow(dead_code)]
            fn __dynabao_key_part<T: ::dynabao::KeyPart + ?::core::marker::Sized>() {}
            #[allow(dead_code)]
            fn __dynabao_same<A: ::dynabao::model::SameType<B>, B>() {}
            #[allow(dead_code)]
            fn __dynabao_checks() {
                #(#checks)*
            }
        };

        impl ::dynabao::Model for #ident {
            const SCHEMA: &'static ::dynabao::model::Schema = &::dynabao::model::Schema {
                name: #ident_str,
                prefix: #prefix,
                global: #global,
                pk: &[#(#pk_schema),*],
                sk: &[#(#sk_schema),*],
                indexes: &[#(#index_schema),*],
                fields: &[#(#all_schema),*],
                created_at: #created_schema,
                updated_at: #updated_schema,
                version: #version_schema,
                ttl: #ttl_schema,
                iteration: #iteration_schema,
            };
            const TTL_REPR: ::dynabao::model::TtlRepr = #ttl_repr;
            #unique_const

            fn write_key_field(
                __attr: &str,
                __value: ::core::option::Option<&::dynabao::__private::AttributeValue>,
                __w: &mut ::dynabao::key::KeyWriter<'_>,
            ) -> ::core::result::Result<bool, ::dynabao::key::InvalidKeyPart> {
                match __attr {
                    #(#key_arms)*
                    _ => ::core::result::Result::Err(::dynabao::key::InvalidKeyPart(
                        ::std::format!("{} is not a key field of {}", __attr, #ident_str),
                    )),
                }
            }

            fn prepare_create(&mut self, __now: ::dynabao::__private::DateTime<::dynabao::__private::Utc>) {
                #auto_fill
                #set_created
                #set_updated
                #set_version_one
                let _ = __now;
            }

            fn touch(&mut self, __now: ::dynabao::__private::DateTime<::dynabao::__private::Utc>) {
                #auto_fill
                #set_updated
                let _ = __now;
            }

            fn version(&self) -> ::core::option::Option<u64> {
                #get_version
            }

            fn set_version(&mut self, __version: u64) {
                #set_version
            }
        }

        #[allow(clippy::needless_lifetimes)]
        impl #ident {
            #(#consts)*

            /// The primary key for these key values.
            pub fn key<#(#kg),*>(#(#kp),*) -> ::core::result::Result<::dynabao::Key<Self>, ::dynabao::key::InvalidKey>
            where #(#kb),*
            {
                let __b = ::dynabao::Key::<Self>::builder();
                #(#key_pushes)*
                ::core::result::Result::Ok(__b.build())
            }

            /// Reads the item with this key: `Option<Self>`.
            pub fn find<'__a, #(#kg),*>(db: &'__a ::dynabao::Db, #(#kp),*) -> ::dynabao::ops::Find<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::ops::Find::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Changes fields of the item with this key, without reading it first.
            pub fn update<'__a, #(#kg),*>(db: &'__a ::dynabao::Db, #(#kp),*) -> ::dynabao::ops::Update<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::ops::Update::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Deletes the item with this key and returns it.
            pub fn delete<'__a, #(#kg),*>(db: &'__a ::dynabao::Db, #(#kp),*) -> ::dynabao::ops::Delete<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::ops::Delete::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Writes a new item; [`dynabao::Error::AlreadyExists`] if the key is taken.
            pub fn create<'__a>(db: &'__a ::dynabao::Db, item: Self) -> ::dynabao::ops::Put<'__a, Self> {
                ::dynabao::ops::Put::create(db, item)
            }

            /// Writes the whole item, replacing whatever is stored under its key.
            pub fn put<'__a>(db: &'__a ::dynabao::Db, item: Self) -> ::dynabao::ops::Put<'__a, Self> {
                ::dynabao::ops::Put::upsert(db, item)
            }

            /// Overwrites an existing item at the version it carries.
            pub fn replace<'__a>(db: &'__a ::dynabao::Db, item: Self) -> ::dynabao::ops::Put<'__a, Self> {
                ::dynabao::ops::Put::replace(db, item)
            }

            #partition_query
            #unique_fns
            #(#index_queries)*
            #iterate_fn
        }
    })
}
