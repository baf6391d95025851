//! `#[derive(KeyPart)]` for enums whose variants serialize to strings, and for newtypes over a
//! key type (`struct ProjectId(Ulid)`), which may also be `#[bao(auto)]` ids.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let auto = auto_attr(&input)?;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    match &input.data {
        Data::Enum(data) => {
            if let Some(v) = data
                .variants
                .iter()
                .find(|v| !matches!(v.fields, Fields::Unit))
            {
                return Err(syn::Error::new(
                    v.ident.span(),
                    "only unit variants (serialized as strings) can be key parts",
                ));
            }
            if let Some(span) = auto {
                return Err(syn::Error::new(
                    span,
                    "#[bao(auto)] is for newtypes over a generated id (struct Id(Ulid))",
                ));
            }
            Ok(quote! {
                impl #impl_generics ::dynabao::__private::KeyPart for #ident #ty_generics #where_clause {
                    fn write_key(&self, w: &mut ::dynabao::__private::KeyWriter<'_>) -> ::dynabao::__private::Result<(), ::dynabao::__private::InvalidKeyPart> {
                        ::dynabao::__private::write_serialized_str(self, w)
                    }
                }
            })
        }
        Data::Struct(data) if matches!(&data.fields, Fields::Unnamed(f) if f.unnamed.len() == 1) => {
            let generated = auto.map(|_| {
                quote! {
                    impl #impl_generics ::dynabao::__private::GeneratedId for #ident #ty_generics #where_clause {
                        fn nil() -> Self {
                            Self(::dynabao::__private::GeneratedId::nil())
                        }

                        fn fill_if_nil(&mut self) {
                            ::dynabao::__private::GeneratedId::fill_if_nil(&mut self.0)
                        }
                    }
                }
            });
            Ok(quote! {
                // The newtype is stored as its inner value (serde's newtype rule), so its key is
                // the inner value's key.
                impl #impl_generics ::dynabao::__private::KeyPart for #ident #ty_generics #where_clause {
                    fn write_key(&self, w: &mut ::dynabao::__private::KeyWriter<'_>) -> ::dynabao::__private::Result<(), ::dynabao::__private::InvalidKeyPart> {
                        ::dynabao::__private::KeyPart::write_key(&self.0, w)
                    }
                }
                #generated
            })
        }
        _ => Err(syn::Error::new(
            ident.span(),
            "KeyPart can be derived for enums with unit variants and for newtypes (struct Id(Ulid)); implement it by hand for other types",
        )),
    }
}

/// The span of `#[bao(auto)]`, if given; any other `bao` option is an error.
fn auto_attr(input: &DeriveInput) -> syn::Result<Option<proc_macro2::Span>> {
    let mut auto = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("bao")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("auto") {
                auto = Some(meta.path.span());
                Ok(())
            } else {
                Err(meta.error("unknown KeyPart option; expected auto"))
            }
        })?;
    }
    Ok(auto)
}
