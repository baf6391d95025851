use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
    #[serde(rename(serialize = "_gsi2_pk", deserialize = "team"))]
    team: String,
}

fn main() {}
