use dynabao::ops::query::lt;
use dynabao::{Db, Model};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "t")]
#[bao(pk = ["board"], sk = ["due", "rank"])]
struct Task {
    board: String,
    due: String,
    rank: u32,
}

fn query(db: &Db) {
    // The first part of the sort key is a String, not a u32.
    let _ = Task::query(db, "b").sk_prefix(lt(5u32));
}

fn main() {}
