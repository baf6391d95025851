use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
#[bao(unique(name = "by_tags", field = "tags"))]
struct User {
    #[bao(pk)]
    id: String,
    tags: Vec<String>,
}

fn main() {}
