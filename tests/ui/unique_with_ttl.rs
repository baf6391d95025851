use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "sess")]
#[bao(unique(name = "by_token", field = "token"))]
struct Session {
    #[bao(pk)]
    id: String,
    token: String,
    #[bao(ttl)]
    expires_at: i64,
}

fn main() {}
