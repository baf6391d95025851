//! The `impl Model` and `impl ModelInternals` blocks, and the compile-time type checks that go
//! with them. Every runtime path is `::dynabao::__private::..`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::def::{table_ref, ModelDef};

/// The checks block, `impl Model for #ident` and `impl ModelInternals for #ident`.
pub fn expand(def: &ModelDef) -> TokenStream {
    let ident = &def.ident;
    let checks = checks(def);
    let schema = schema(def);
    let ttl_repr = def.managed.ttl.map(|i| {
        let ty = &def.fields[i].ty;
        let repr = quote_spanned! {ty.span()=> <#ty as ::dynabao::__private::TtlField>::REPR };
        quote! { const TTL_REPR: ::dynabao::__private::TtlRepr = #repr; }
    });
    let unique_const = &def.uniques.constant;
    let key_fields = key_fields(def);
    let managed = managed(def);
    // The slots this model has no field for stay `None` (none left: no struct update, which
    // clippy would flag in the user's crate).
    let rest = (managed.len() < 4).then(|| quote! { ..::dynabao::__private::Managed::default() });
    quote! {
        const _: () = {
            // The link-time registry of models, checked for shared prefixes by Db::connect.
            ::dynabao::__private::inventory::submit! {
                ::dynabao::__private::Registration::of::<#ident>(
                    ::core::module_path!(),
                    ::core::file!(),
                    ::core::line!(),
                    ::core::column!(),
                )
            }
            #[allow(dead_code)]
            fn __dynabao_checks() {
                #(#checks)*
            }
        };

        impl ::dynabao::__private::Model for #ident {
            const SCHEMA: &'static ::dynabao::__private::Schema = #schema;
            #unique_const
        }

        impl ::dynabao::__private::ModelInternals for #ident {
            #ttl_repr
            const KEY_FIELDS: &'static [(&'static str, ::dynabao::__private::KeyFieldWriter)] = {
                use ::dynabao::__private as __p;
                &[#(#key_fields),*]
            };

            fn managed(&mut self) -> ::dynabao::__private::Managed<'_> {
                ::dynabao::__private::Managed { #(#managed)* #rest }
            }
        }
    }
}

/// Compile-time type checks, each blamed on the field's type so a wrong type is reported
/// where it is written.
fn checks(def: &ModelDef) -> Vec<TokenStream> {
    let fields = &def.fields;
    let mut checks = def.uniques.checks.clone();
    let key_part = |ty: &syn::Type| {
        quote_spanned! {ty.span()=> ::dynabao::__private::assert_key_part::<#ty>(); }
    };
    for i in def.primary() {
        checks.push(key_part(&fields[i].ty));
    }
    for index in &def.indexes {
        for &i in index.pk.iter().chain(&index.sk) {
            checks.push(key_part(fields[i].key_type()));
        }
    }
    let typed = |i: Option<usize>, want: TokenStream| -> Option<TokenStream> {
        i.map(|i| {
            let ty = &fields[i].ty;
            quote_spanned! {ty.span()=> ::dynabao::__private::assert_same::<#ty, #want>(); }
        })
    };
    let m = &def.managed;
    let time = quote!(::dynabao::__private::Timestamp);
    checks.extend(m.auto.map(|i| {
        let ty = &fields[i].ty;
        quote_spanned! {ty.span()=> ::dynabao::__private::assert_generated_id::<#ty>(); }
    }));
    checks.extend(typed(m.created_at, time.clone()));
    checks.extend(typed(m.updated_at, time));
    checks.extend(typed(m.version, quote!(u64)));
    checks
}

/// The block behind `Model::SCHEMA`: one constant per field (`F0`, ..), written once and
/// referred to by name everywhere else, then the schema built from them. Index names and
/// attributes come from the GSI number, in the runtime.
fn schema(def: &ModelDef) -> TokenStream {
    let ident_str = def.ident.to_string();
    let prefix = &def.prefix;
    let global = def.global;
    let table = def.fields.iter().enumerate().map(|(i, f)| {
        let name = table_ref(i);
        let schema = f.schema();
        quote! { const #name: __p::FieldSchema = #schema; }
    });
    let all = def.table_refs(&(0..def.fields.len()).collect::<Vec<_>>());
    let pk = def.table_refs(&def.pk);
    let sk = def.table_refs(&def.sk);
    let with_sk = (!sk.is_empty()).then(|| quote! { .sk(&[#(#sk),*]) });
    let indexes = def.indexes.iter().map(|index| {
        let name = &index.name;
        let gsi = proc_macro2::Literal::u8_unsuffixed(index.gsi);
        let p = def.table_refs(&index.pk);
        let s = def.table_refs(&index.sk);
        quote! { __p::index(#name, #gsi, &[#(#p),*], &[#(#s),*]) }
    });
    let index_consts: Vec<_> = indexes
        .enumerate()
        .map(|(n, index)| (quote::format_ident!("I{}", n), index))
        .collect();
    let index_defs = index_consts
        .iter()
        .map(|(name, index)| quote! { const #name: __p::IndexSchema = #index; });
    let index_names = index_consts.iter().map(|(name, _)| name);
    let with_indexes = (!def.indexes.is_empty()).then(|| quote! { .indexes(&[#(#index_names),*]) });
    let m = &def.managed;
    let managed = [
        (m.created_at, quote!(created_at)),
        (m.updated_at, quote!(updated_at)),
        (m.version, quote!(version)),
        (m.ttl, quote!(ttl)),
    ]
    .into_iter()
    .filter_map(|(i, method)| {
        i.map(|i| {
            let f = table_ref(i);
            quote! { .#method(&#f) }
        })
    });
    let (iteration_def, iteration) = match &def.iterable {
        Some(it) => {
            let gsi = proc_macro2::Literal::u8_unsuffixed(it.gsi);
            let buckets = proc_macro2::Literal::u16_unsuffixed(it.buckets);
            (
                quote! { const IT: __p::Iteration = __p::iteration(#gsi, #buckets); },
                quote! { .iteration(&IT) },
            )
        }
        None => (quote! {}, quote! {}),
    };
    quote! {
        {
            use ::dynabao::__private as __p;
            #(#table)*
            #(#index_defs)*
            #iteration_def
            &__p::schema(#ident_str, #prefix, #global, &[#(#all),*])
                .pk(&[#(#pk),*]) #with_sk #with_indexes #(#managed)* #iteration .build()
        }
    }
}

/// `KEY_FIELDS`: one entry per field that is part of any key (table, index or unique
/// constraint), naming the runtime function that encodes its type.
fn key_fields(def: &ModelDef) -> Vec<TokenStream> {
    let mut ids = def.primary();
    for index in &def.indexes {
        ids.extend(index.pk.iter().chain(&index.sk));
    }
    ids.extend(&def.uniques.field_ids);
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .map(|&i| {
            let f = &def.fields[i];
            let name = f.name();
            match &f.inner {
                Some(inner) => quote! { (#name, __p::write_opt_key::<#inner>) },
                None => {
                    let ty = &f.ty;
                    quote! { (#name, __p::write_key::<#ty>) }
                }
            }
        })
        .collect()
}

/// The fields of `Managed { .. }`: references to the managed fields this model has.
fn managed(def: &ModelDef) -> Vec<TokenStream> {
    let m = &def.managed;
    [
        (m.auto, quote!(auto)),
        (m.created_at, quote!(created_at)),
        (m.updated_at, quote!(updated_at)),
        (m.version, quote!(version)),
    ]
    .into_iter()
    .filter_map(|(i, slot)| {
        i.map(|i| {
            let f = &def.fields[i].ident;
            quote! { #slot: ::dynabao::__private::Some(&mut self.#f), }
        })
    })
    .collect()
}
