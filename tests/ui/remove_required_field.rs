use dynabao::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
    email: String,
}

fn main() {
    async fn _f(db: &dynabao::Db) {
        let _ = User::update(db, "x").remove(User::EMAIL);
    }
}
