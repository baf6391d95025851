use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(index(name = "by_tags", gsi = 1, pk = "tags"))]
struct User {
    #[bao(pk)]
    id: String,
    tags: Vec<String>,
}

fn main() {}
