// The descriptor a `Field` points at cannot be built outside dynabao: its fields are private,
// so there is no `FieldSchema` claiming `_pk` or `_gsi1_pk` to make a `Field` from.
use dynabao::model::FieldSchema;

const PK: FieldSchema = FieldSchema { name: "pk", attr: "_pk", serialized: "_pk", optional: false };

fn main() {
    let _ = PK;
    let _ = FieldSchema { name: "gsi", attr: "_gsi1_pk", serialized: "_gsi1_pk", optional: false };
}
