//! Derive macros for [dynabao](https://docs.rs/dynabao). Depend on `dynabao` and use them as
//! `dynabao::Model` and `dynabao::KeyPart`; this crate is an implementation detail, like
//! `serde_derive` is for `serde`.

mod attrs;
mod key_part;
mod model;
mod unique;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Turns a struct into a dynabao model. See the `dynabao` crate docs for the attributes.
///
/// Rejected at compile time: a stored name beginning with `_` (reserved for dynabao's keys,
/// indexes and `_ttl`), from the field's name, `#[serde(rename = "..")]`,
/// `rename(serialize = "..", deserialize = "..")`, `alias` or a container `tag`. The model is
/// also registered at link time, so `Db::connect` can refuse two models with one prefix.
#[proc_macro_derive(Model, attributes(bao))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Lets a unit-variant enum that serializes to a string be part of a key.
#[proc_macro_derive(KeyPart, attributes(bao))]
pub fn derive_key_part(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    key_part::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
