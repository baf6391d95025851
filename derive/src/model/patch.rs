//! `#[bao(patch)]`: a `<Model>Patch` struct of optional fields that turns into one update; and
//! `#[bao(new)]`: a constructor that leaves out the fields dynabao manages.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::def::ModelDef;

pub fn expand(def: &ModelDef) -> TokenStream {
    let constructor = constructor(def);
    let patch = patch(def);
    quote! { #constructor #patch }
}

/// `Model::new(every field but the managed ones)`: managed fields start as create fills them
/// (a nil auto id, epoch timestamps, version 0), so struct literals need no placeholders.
fn constructor(def: &ModelDef) -> TokenStream {
    if !def.new {
        return TokenStream::new();
    }
    let model = &def.ident;
    let m = &def.managed;
    let mut params = Vec::new();
    let mut inits = Vec::new();
    for (i, f) in def.fields.iter().enumerate() {
        let ident = &f.ident;
        let ty = &f.ty;
        let init = if m.auto == Some(i) {
            quote! { #ident: <#ty as ::dynabao::__private::GeneratedId>::nil() }
        } else if m.created_at == Some(i) || m.updated_at == Some(i) {
            quote! { #ident: ::dynabao::__private::DateTime::<::dynabao::__private::Utc>::default() }
        } else if m.version == Some(i) {
            quote! { #ident: 0 }
        } else {
            params.push(quote! { #ident: #ty });
            quote! { #ident }
        };
        inits.push(init);
    }
    let doc = format!(
        "A new `{model}` from the fields dynabao does not manage; the managed ones (auto id,          timestamps, version) are filled by `{model}::create`."
    );
    quote! {
        impl #model {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#params),*) -> Self {
                #model { #(#inits),* }
            }
        }
    }
}

fn patch(def: &ModelDef) -> TokenStream {
    if !def.patch {
        return TokenStream::new();
    }
    let model = &def.ident;
    let vis = &def.vis;
    let patch = format_ident!("{}Patch", model);
    let primary = def.primary();
    let m = &def.managed;
    let managed = [m.created_at, m.updated_at, m.version];
    let fields: Vec<_> = def
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            !primary.contains(i) && !managed.contains(&Some(*i)) && f.attrs.skipped.is_none()
        })
        .map(|(_, f)| f)
        .collect();
    let mut decls = Vec::new();
    let mut applies = Vec::new();
    let mut empties = Vec::new();
    for f in &fields {
        let ident = &f.ident;
        let ty = &f.ty;
        let serialized = &f.serialized;
        let constant = format_ident!("{}", f.name().to_uppercase());
        let doc = format!("A new `{}`, when `Some`.", f.name());
        if f.inner.is_some() {
            decls.push(quote! {
                #[doc = #doc]
                #[doc = ""]
                #[doc = "`Some(None)` (`null` in JSON) removes it."]
                #[serde(rename = #serialized, default, deserialize_with = "::dynabao::__private::double_option")]
                pub #ident: ::core::option::Option<#ty>,
            });
            applies.push(quote! {
                match self.#ident {
                    ::core::option::Option::Some(::core::option::Option::Some(v)) => {
                        update = update.set(#model::#constant, ::core::option::Option::Some(v));
                    }
                    ::core::option::Option::Some(::core::option::Option::None) => {
                        update = update.remove(#model::#constant);
                    }
                    ::core::option::Option::None => {}
                }
            });
        } else {
            decls.push(quote! {
                #[doc = #doc]
                #[serde(rename = #serialized, default)]
                pub #ident: ::core::option::Option<#ty>,
            });
            applies.push(quote! {
                if let ::core::option::Option::Some(v) = self.#ident {
                    update = update.set(#model::#constant, v);
                }
            });
        }
        empties.push(quote! { self.#ident.is_none() });
    }
    let doc = format!(
        "A partial update of [`{model}`]: every field that is `Some` is set, in one update with \
         the same index-key recomputation and checks as `{model}::update`. It deserializes from \
         a JSON body under the model's field names (a `PATCH`); unknown fields, the primary key \
         and managed fields among them, are refused."
    );
    let empty = if empties.is_empty() {
        quote!(true)
    } else {
        quote!(#(#empties)&&*)
    };
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::default::Default, ::dynabao::__private::serde::Deserialize)]
        #[serde(crate = "::dynabao::__private::serde", deny_unknown_fields)]
        #vis struct #patch {
            #(#decls)*
        }

        impl ::dynabao::__private::Patch<#model> for #patch {
            fn apply<'__a>(
                self,
                mut update: ::dynabao::__private::Update<'__a, #model>,
            ) -> ::dynabao::__private::Update<'__a, #model> {
                #(#applies)*
                update
            }

            fn is_empty(&self) -> bool {
                #empty
            }
        }
    }
}
