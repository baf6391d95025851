use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(name = "by_email", gsi = 1, pk = "email"))]
#[bao(index(name = "by_status", gsi = 1, pk = "status"))]
struct User {
    #[bao(pk)]
    id: String,
    email: String,
    status: String,
}

fn main() {}
