//! `#[derive(KeyPart)]` for enums whose variants serialize to strings.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            ident.span(),
            "KeyPart can be derived for enums with unit variants; implement it by hand for other types",
        ));
    };
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
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::dynabao::__private::KeyPart for #ident #ty_generics #where_clause {
            fn write_key(&self, w: &mut ::dynabao::__private::KeyWriter<'_>) -> ::dynabao::__private::Result<(), ::dynabao::__private::InvalidKeyPart> {
                ::dynabao::__private::write_serialized_str(self, w)
            }
        }
    })
}
