use dynabao::ops::query::eq;
use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "e")]
#[bao(index(name = "by_kind", gsi = 1, pk = "kind"))]
struct Event {
    #[bao(pk)]
    id: String,
    kind: String,
}

fn main() {
    async fn _f(db: &dynabao::Db) {
        // The index has no sort key: there is nothing to compare.
        let _ = Event::query_by_kind(db, "k").sk(eq(1u32));
    }
}
