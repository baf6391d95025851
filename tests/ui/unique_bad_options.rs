use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(unique(name = "by email", field = "email"))]
struct A {
    #[bao(pk)]
    id: String,
    email: String,
}

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "b")]
#[bao(unique(name = "by_email", field = ["email", "id2"]))]
struct B {
    #[bao(pk)]
    id: String,
    email: String,
    id2: String,
}

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "c")]
#[bao(unique(field = "email"))]
struct C {
    #[bao(pk)]
    id: String,
    email: String,
}

fn main() {}
