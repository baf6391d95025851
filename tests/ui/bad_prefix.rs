use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u#admin")]
struct User {
    #[bao(pk)]
    id: String,
}

fn main() {}
