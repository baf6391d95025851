use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(unique(name = "by_email", field = "emial"))]
struct User {
    #[bao(pk)]
    id: String,
    email: String,
}

fn main() {}
