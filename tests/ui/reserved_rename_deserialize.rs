use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
    #[serde(rename(deserialize = "_pk"))]
    team: String,
}

fn main() {}
