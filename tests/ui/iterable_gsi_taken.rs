use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "e")]
#[bao(index(name = "by_kind", gsi = 5, pk = "kind"))]
#[bao(iterable(gsi = 5, buckets = 4))]
struct Event {
    #[bao(pk)]
    id: String,
    kind: String,
}

fn main() {}
