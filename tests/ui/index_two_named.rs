use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(by_a(gsi = 1, pk = "a"), by_b(gsi = 2, pk = "b")))]
struct User {
    #[bao(pk)]
    id: String,
    a: String,
    b: String,
}

fn main() {}
