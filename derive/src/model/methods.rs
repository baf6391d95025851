//! The inherent `impl` block: field constants and the typed entry points (key, find, update,
//! delete, create, put, replace, queries, iteration and unique lookups).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use super::def::ModelDef;

/// `impl #ident { .. }` with everything callable as `Model::function(..)`.
pub fn expand(def: &ModelDef) -> TokenStream {
    let ident = &def.ident;
    let consts = field_consts(def);
    let pk_sk = def.primary();
    let (kg, kp, kb) = key_args(def, &pk_sk);
    let key_pushes = pk_sk.iter().map(|&i| {
        let arg = &def.fields[i].ident;
        let name = def.fields[i].name();
        let method = if def.pk.contains(&i) {
            quote!(pk)
        } else {
            quote!(sk)
        };
        quote! { .#method(#name, #arg) }
    });
    let key_arg_names: Vec<&Ident> = pk_sk.iter().map(|&i| &def.fields[i].ident).collect();
    let partition_query = partition_query(def);
    let unique_fns = &def.uniques.functions;
    let index_queries = index_queries(def);
    let iterate_fn = iterate_fn(def);
    quote! {
        #[allow(clippy::needless_lifetimes)]
        impl #ident {
            #(#consts)*

            /// The primary key for these key values.
            pub fn key<#(#kg),*>(#(#kp),*) -> ::dynabao::__private::Result<::dynabao::__private::Key<Self>, ::dynabao::__private::InvalidKey>
            where #(#kb),*
            {
                ::dynabao::__private::key_builder::<Self>() #(#key_pushes)* .build()
            }

            /// Reads the item with this key: `Option<Self>`.
            pub fn find<'__a, #(#kg),*>(db: &'__a ::dynabao::__private::Db, #(#kp),*) -> ::dynabao::__private::Find<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::__private::Find::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Changes fields of the item with this key, without reading it first.
            pub fn update<'__a, #(#kg),*>(db: &'__a ::dynabao::__private::Db, #(#kp),*) -> ::dynabao::__private::Update<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::__private::Update::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Deletes the item with this key and returns it.
            pub fn delete<'__a, #(#kg),*>(db: &'__a ::dynabao::__private::Db, #(#kp),*) -> ::dynabao::__private::Delete<'__a, Self>
            where #(#kb),*
            {
                ::dynabao::__private::Delete::new(db, Self::key(#(#key_arg_names),*))
            }

            /// Writes a new item; [`dynabao::Error::AlreadyExists`] if the key is taken.
            pub fn create<'__a>(db: &'__a ::dynabao::__private::Db, item: Self) -> ::dynabao::__private::Put<'__a, Self> {
                ::dynabao::__private::Put::create(db, item)
            }

            /// Writes the whole item, replacing whatever is stored under its key.
            pub fn put<'__a>(db: &'__a ::dynabao::__private::Db, item: Self) -> ::dynabao::__private::Put<'__a, Self> {
                ::dynabao::__private::Put::upsert(db, item)
            }

            /// Overwrites an existing item at the version it carries.
            pub fn replace<'__a>(db: &'__a ::dynabao::__private::Db, item: Self) -> ::dynabao::__private::Put<'__a, Self> {
                ::dynabao::__private::Put::replace(db, item)
            }

            #partition_query
            #unique_fns
            #(#index_queries)*
            #iterate_fn
        }
    }
}

/// One `Field<Self, T>` constant per field (`Model::EMAIL`), for typed conditions and updates.
fn field_consts(def: &ModelDef) -> Vec<TokenStream> {
    let ident = &def.ident;
    let primary = def.primary();
    def.fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = format_ident!("{}", f.name().to_uppercase(), span = f.ident.span());
            let ty = &f.ty;
            let key = primary.contains(&i);
            let i = proc_macro2::Literal::usize_unsuffixed(i);
            if key {
                // A primary key field: conditions take it, updates do not compile with it.
                let doc = format!(
                    "The `{}` field (primary key), for typed conditions.",
                    f.name()
                );
                quote! {
                    #[doc = #doc]
                    pub const #name: ::dynabao::__private::Field<#ident, #ty, ::dynabao::__private::PrimaryKey> = ::dynabao::__private::key_field_ref(#i);
                }
            } else {
                let doc = format!(
                    "The `{}` field, for typed conditions and updates.",
                    f.name()
                );
                quote! {
                    #[doc = #doc]
                    pub const #name: ::dynabao::__private::Field<#ident, #ty> = ::dynabao::__private::field_ref(#i);
                }
            }
        })
        .collect()
}

/// Typed key arguments: `&K` where the field type borrows as `K` (`&str` for `String`).
///
/// Returns the generic parameters, the function parameters and the where-clause bounds.
fn key_args(def: &ModelDef, ids: &[usize]) -> (Vec<Ident>, Vec<TokenStream>, Vec<TokenStream>) {
    let mut generics = Vec::new();
    let mut params = Vec::new();
    let mut bounds = Vec::new();
    for (n, &i) in ids.iter().enumerate() {
        let f = &def.fields[i];
        let g = format_ident!("__K{}", n);
        let arg = f.ident.clone();
        let ty = f.key_type();
        params.push(quote! { #arg: &#g });
        bounds.push(quote! { #ty: ::dynabao::__private::Borrow<#g>, #g: ::dynabao::__private::KeyPart + ?::core::marker::Sized });
        generics.push(g);
    }
    (generics, params, bounds)
}

/// The calls that add these partition key fields to a key builder.
fn partition_pushes(def: &ModelDef, ids: &[usize]) -> Vec<TokenStream> {
    ids.iter()
        .map(|&i| {
            let arg = &def.fields[i].ident;
            let name = def.fields[i].name();
            quote! { .pk(#name, #arg) }
        })
        .collect()
}

/// The Rust type of a sort key: its field's type, a tuple for a composite key, or none.
fn sort_key_type(def: &ModelDef, ids: &[usize]) -> TokenStream {
    match ids {
        [] => quote!(::dynabao::__private::NoSortKey),
        [one] => {
            let ty = def.fields[*one].key_type();
            quote!(#ty)
        }
        many => {
            let tys = many.iter().map(|&i| def.fields[i].key_type());
            quote!((#(#tys),*))
        }
    }
}

/// `query`: one partition of the table, generated only when the table has a sort key (without
/// one, a partition holds a single item and `find` reads it).
fn partition_query(def: &ModelDef) -> TokenStream {
    if def.sk.is_empty() {
        return quote! {};
    }
    let table_sk_type = sort_key_type(def, &def.sk);
    let (g, p, b) = key_args(def, &def.pk);
    let pushes = partition_pushes(def, &def.pk);
    quote! {
        /// Every item in one partition of the table, in sort-key order.
        pub fn query<'__a, #(#g),*>(db: &'__a ::dynabao::__private::Db, #(#p),*) -> ::dynabao::__private::Query<'__a, Self, #table_sk_type>
        where #(#b),*
        {
            ::dynabao::__private::Query::table(db, ::dynabao::__private::key_builder::<Self>() #(#pushes)* .partition())
        }
    }
}

/// `query_<name>`: one partition of each secondary index.
fn index_queries(def: &ModelDef) -> Vec<TokenStream> {
    def.indexes.iter().enumerate().map(|(n, index)| {
        let n = proc_macro2::Literal::usize_unsuffixed(n);
        let index_sk_type = sort_key_type(def, &index.sk);
        let fname = format_ident!("query_{}", index.name, span = index.name_span);
        let (g, p, b) = key_args(def, &index.pk);
        let pushes = partition_pushes(def, &index.pk);
        let doc = format!("Items whose `{}` index partition key matches, in index sort-key order.", index.name);
        quote! {
            #[doc = #doc]
            pub fn #fname<'__a, #(#g),*>(db: &'__a ::dynabao::__private::Db, #(#p),*) -> ::dynabao::__private::Query<'__a, Self, #index_sk_type>
            where #(#b),*
            {
                ::dynabao::__private::Query::index(db, &<Self as ::dynabao::__private::Model>::SCHEMA.indexes()[#n], ::dynabao::__private::key_builder::<Self>() #(#pushes)* .partition())
            }
        }
    }).collect()
}

/// `iterate`, for models declared `#[bao(iterable(..))]`.
fn iterate_fn(def: &ModelDef) -> Option<TokenStream> {
    def.iterable.as_ref().map(|_| {
        quote! {
            /// Every item of this model in the current tenant, read bucket by bucket from the
            /// iteration index (no table scan).
            pub fn iterate<'__a>(db: &'__a ::dynabao::__private::Db) -> ::dynabao::__private::Iterate<'__a, Self> {
                ::dynabao::__private::Iterate::new(db)
            }
        }
    })
}
