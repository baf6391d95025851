use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[serde(tag = "_pk")]
struct User {
    #[bao(pk)]
    id: String,
}

fn main() {}
