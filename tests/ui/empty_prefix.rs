use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "")]
struct User {
    #[bao(pk)]
    id: String,
}

fn main() {}
