use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(name = "by_email", gsi = 6, pk = "email"))]
struct User {
    #[bao(pk)]
    id: String,
    email: String,
}

fn main() {}
