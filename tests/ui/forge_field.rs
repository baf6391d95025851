// A `Field` whose attribute is a key attribute would let `Update::set` overwrite `_pk` or an
// index key. Only the derive can make a `Field`: its constructor is not reachable (and
// `FieldSchema` cannot be built either: forge_field_schema.rs).
use dynabao::model::FieldSchema;
use dynabao::{Field, Model};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[bao(prefix = "u")]
struct User {
    #[bao(pk)]
    id: String,
}

const GSI1_PK: Field<User, String> = Field::new(User::ID.schema());

fn main() {
    let _ = Field::<User, String>::new(User::ID.schema());
    let _ = GSI1_PK;
    let _: Option<&FieldSchema> = None;
}
