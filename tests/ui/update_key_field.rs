use dynabao::{Db, Model};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "p")]
struct Post {
    #[bao(pk)]
    author: String,
    #[bao(sk)]
    seq: u32,
    title: String,
}

fn update(db: &Db) {
    // Conditions take key fields ...
    let _ = Post::update(db, "a", &1).condition(Post::SEQ.eq(1u32));
    // ... updates do not: an item's key cannot change.
    let _ = Post::update(db, "a", &1).set(Post::SEQ, 2u32);
    let _ = Post::update(db, "a", &1).set(Post::AUTHOR, "b");
}

fn main() {}
