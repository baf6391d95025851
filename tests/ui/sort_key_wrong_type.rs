use dynabao::ops::query::gt;
use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "e")]
#[bao(index(name = "by_kind", gsi = 1, pk = "kind", sk = "rank"))]
struct Event {
    #[bao(pk)]
    id: String,
    kind: String,
    rank: i64,
}

fn main() {
    async fn _f(db: &dynabao::Db) {
        // `rank` is an i64: a string bound does not type-check.
        let _ = Event::query_by_kind(db, "k").sk(gt("ten"));
    }
}
