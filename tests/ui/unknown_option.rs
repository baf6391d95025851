use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u", tenant_field = "x")]
struct User {
    #[bao(pk)]
    id: String,
}

fn main() {}
