use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
    #[serde(alias = "expires", alias = "_ttl")]
    expires_at: u64,
}

fn main() {}
