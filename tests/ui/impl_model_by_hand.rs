// `Model` is sealed: only `#[derive(Model)]` implements it.
use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
}

#[derive(Serialize, Deserialize)]
struct Forged {
    id: String,
}

impl Model for Forged {
    const SCHEMA: &'static dynabao::model::Schema = <User as Model>::SCHEMA;
}

fn main() {}
