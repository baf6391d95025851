use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(name = "by_status", gsi = 1, pk = "stauts"))]
struct User {
    #[bao(pk)]
    id: String,
    status: String,
}

fn main() {}
