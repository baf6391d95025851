//! `#[derive(Model)]`: the schema, field constants, key functions and typed entry points.
//!
//! [`parse`] checks the struct and produces a [`def::ModelDef`]; [`impl_model`] and
//! [`methods`] only generate code from it and cannot fail.

mod def;
mod impl_model;
mod methods;
mod parse;
mod patch;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// Expands `#[derive(Model)]` on `input`, or returns the first mistake found in it.
pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let def = parse::parse(&input)?;
    let model_impl = impl_model::expand(&def);
    let inherent = methods::expand(&def);
    let patch = patch::expand(&def);
    Ok(quote! {
        #model_impl
        #inherent
        #patch
    })
}
