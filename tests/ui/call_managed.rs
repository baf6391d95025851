// The methods that fill managed fields (version, timestamps, auto ids) belong to dynabao's
// writes; user code cannot call them.
use chrono::{DateTime, Utc};
use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
    #[bao(updated_at)]
    updated_at: DateTime<Utc>,
    #[bao(version)]
    version: u64,
}

fn main() {
    let mut user = User { id: "a".into(), updated_at: Utc::now(), version: 1 };
    user.set_version(3);
    user.touch(Utc::now());
    let _ = User::KEY_FIELDS;
}
