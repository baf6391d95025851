//! The `impl ::dynabao::Model` block, and the compile-time type checks that go with it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::def::{gsi_names, ModelDef};

/// The checks block followed by `impl ::dynabao::Model for #ident`.
pub fn expand(def: &ModelDef) -> TokenStream {
    let ident = &def.ident;
    let ident_str = ident.to_string();
    let checks = checks(def);
    let schema = schema(def);
    let ttl_repr = ttl_repr(def);
    let unique_const = &def.uniques.constant;
    let key_arms = key_field_arms(def);
    let Lifecycle {
        auto_fill,
        set_created,
        set_updated,
        set_version_one,
        get_version,
        set_version,
    } = lifecycle(def);
    quote! {
        const _: () = {
            // The link-time registry of models, checked for shared prefixes by Db::connect.
            ::dynabao::__private::inventory::submit! {
                ::dynabao::model::registry::Registration::new(
                    <#ident as ::dynabao::Model>::SCHEMA,
                    ::core::module_path!(),
                    ::core::file!(),
                    ::core::line!(),
                    ::core::column!(),
                )
            }
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
            const SCHEMA: &'static ::dynabao::model::Schema = &#schema;
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
    }
}

/// Compile-time type checks, each blamed on the field's type so a wrong type is reported
/// where it is written.
fn checks(def: &ModelDef) -> Vec<TokenStream> {
    let fields = &def.fields;
    let mut checks = def.uniques.checks.clone();
    for i in def.primary() {
        let ty = &fields[i].ty;
        checks.push(quote_spanned! {ty.span()=> __dynabao_key_part::<#ty>(); });
    }
    for index in &def.indexes {
        for &i in index.pk.iter().chain(&index.sk) {
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
    let m = &def.managed;
    checks.extend(typed(m.auto, quote!(::dynabao::__private::Ulid)));
    checks.extend(typed(
        m.created_at,
        quote!(::dynabao::__private::DateTime<::dynabao::__private::Utc>),
    ));
    checks.extend(typed(
        m.updated_at,
        quote!(::dynabao::__private::DateTime<::dynabao::__private::Utc>),
    ));
    checks.extend(typed(m.version, quote!(u64)));
    checks
}

/// How the TTL attribute is stored, taken from the TTL field's type (which also checks that
/// the type can be a TTL).
fn ttl_repr(def: &ModelDef) -> TokenStream {
    match def.managed.ttl {
        Some(i) => {
            let ty = &def.fields[i].ty;
            quote_spanned! {ty.span()=> <#ty as ::dynabao::model::TtlField>::REPR }
        }
        None => quote!(::dynabao::model::TtlRepr::EpochSeconds),
    }
}

/// The `::dynabao::model::Schema { .. }` expression behind `Model::SCHEMA`.
fn schema(def: &ModelDef) -> TokenStream {
    let ident_str = def.ident.to_string();
    let prefix = &def.prefix;
    let global = def.global;
    let pk_schema = def.schemas(&def.pk);
    let sk_schema = def.schemas(&def.sk);
    let all_schema = def.fields.iter().map(|f| f.schema());
    let opt_schema = |i: Option<usize>| match i {
        Some(i) => {
            let s = def.fields[i].schema();
            quote!(::core::option::Option::Some(&#s))
        }
        None => quote!(::core::option::Option::None),
    };
    let created_schema = opt_schema(def.managed.created_at);
    let updated_schema = opt_schema(def.managed.updated_at);
    let version_schema = opt_schema(def.managed.version);
    let ttl_schema = opt_schema(def.managed.ttl);
    let iteration_schema = iteration_schema(def);
    let index_schema = index_schemas(def);
    quote! {
        ::dynabao::model::Schema {
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
        }
    }
}

/// `Schema::iteration`: the iteration index, whose keys hold no fields.
fn iteration_schema(def: &ModelDef) -> TokenStream {
    match &def.iterable {
        Some(it) => {
            let gsi = it.gsi;
            let buckets = it.buckets;
            let (index_name, pk_attr, sk_attr) = gsi_names(gsi);
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
    }
}

/// `Schema::indexes`, in declaration order (`query_<name>` refers to them by position).
fn index_schemas(def: &ModelDef) -> Vec<TokenStream> {
    def.indexes
        .iter()
        .map(|index| {
            let name = &index.name;
            let gsi = index.gsi;
            let (index_name, pk_attr, sk_attr) = gsi_names(gsi);
            let p = def.schemas(&index.pk);
            let s = def.schemas(&index.sk);
            quote! {
                ::dynabao::model::IndexSchema {
                    name: #name, gsi: #gsi, index_name: #index_name, pk_attr: #pk_attr, sk_attr: #sk_attr,
                    pk: &[#(#p),*], sk: &[#(#s),*],
                }
            }
        })
        .collect()
}

/// The `write_key_field` match arms: one per field that is part of any key (table, index or
/// unique constraint), keyed by its stored attribute name.
fn key_field_arms(def: &ModelDef) -> Vec<TokenStream> {
    let mut key_field_ids = def.primary();
    for index in &def.indexes {
        key_field_ids.extend(index.pk.iter().chain(&index.sk));
    }
    key_field_ids.extend(&def.uniques.field_ids);
    key_field_ids.sort_unstable();
    key_field_ids.dedup();
    key_field_ids
        .iter()
        .map(|&i| {
            let f = &def.fields[i];
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
        })
        .collect()
}

/// The statements `prepare_create`, `touch`, `version` and `set_version` are made of.
struct Lifecycle {
    auto_fill: Option<TokenStream>,
    set_created: Option<TokenStream>,
    set_updated: Option<TokenStream>,
    set_version_one: Option<TokenStream>,
    get_version: TokenStream,
    set_version: TokenStream,
}

/// Fills the managed fields: a fresh `Ulid` for a nil auto key, timestamps, version 1.
fn lifecycle(def: &ModelDef) -> Lifecycle {
    let field_ident = |i: Option<usize>| i.map(|i| def.fields[i].ident.clone());
    let m = &def.managed;
    let auto_fill = field_ident(m.auto).map(|f| {
        quote! {
            if self.#f == ::dynabao::__private::Ulid::nil() {
                self.#f = ::dynabao::__private::Ulid::new();
            }
        }
    });
    let (get_version, set_version) = match field_ident(m.version) {
        Some(f) => (
            quote! { ::core::option::Option::Some(self.#f) },
            quote! { self.#f = __version; },
        ),
        None => (
            quote! { ::core::option::Option::None },
            quote! { let _ = __version; },
        ),
    };
    Lifecycle {
        auto_fill,
        set_created: field_ident(m.created_at).map(|f| quote! { self.#f = __now; }),
        set_updated: field_ident(m.updated_at).map(|f| quote! { self.#f = __now; }),
        set_version_one: field_ident(m.version).map(|f| quote! { self.#f = 1; }),
        get_version,
        set_version,
    }
}
