use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(unique(name = "by_id", field = id))]
struct User {
    #[bao(pk)]
    id: String,
    email: String,
}

fn main() {}
