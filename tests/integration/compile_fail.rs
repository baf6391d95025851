//! The derive contract: the derive's compile errors (each case in tests/ui fails to compile
//! with the message and span recorded next to it, among them the seal: no forged `Field`, no
//! managed-field mutators, no hand-written `Model`), and the run-time guard behind the seal.

use dynabao::__private as p;
use dynabao::testkit::{fresh_db_counted, fresh_tenant, RequestCounter};
use dynabao::{Error, TenantContext};
use serde::{Deserialize, Serialize};

#[test]
fn derive_errors_point_at_the_mistake() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

/// A model built by hand through `__private` (what the seal leaves possible only by naming it),
/// whose fields claim key attributes the derive would have rejected.
#[derive(Debug, Serialize, Deserialize)]
struct Forged {
    id: String,
}

impl p::ModelInternals for Forged {
    const KEY_FIELDS: &'static [(&'static str, p::KeyFieldWriter)] =
        &[("id", p::write_key::<String>)];

    fn managed(&mut self) -> p::Managed<'_> {
        p::Managed::default()
    }
}

impl p::Model for Forged {
    const SCHEMA: &'static p::Schema = {
        const ID: p::FieldSchema = p::field("id", "id", false);
        const PK: p::FieldSchema = p::field("pk", "_pk", false);
        const GSI1_PK: p::FieldSchema = p::field("gsi1_pk", "_gsi1_pk", false);
        &p::schema("Forged", "forged", false, &[ID, PK, GSI1_PK])
            .pk(&[ID])
            .build()
    };
}

#[tokio::test]
async fn update_refuses_reserved_attributes_and_sends_nothing() -> dynabao::Result<()> {
    let counter = RequestCounter::new();
    let db = fresh_db_counted(&counter).await?;
    TenantContext::run_with_tenant(fresh_tenant(), async {
        for (i, attr) in [(1, "_pk"), (2, "_gsi1_pk")] {
            let before = counter.count();
            let key = p::key_builder::<Forged>().pk("id", "a").build();
            let field: p::Field<Forged, String> = p::field_ref(i);
            let err = p::Update::new(&db, key)
                .set(field, "[other]#u#x".to_owned())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::ReservedAttribute { model: "Forged", attr: a } if a == attr),
                "{err:?}"
            );
            assert_eq!(counter.count(), before, "nothing is sent");
        }
        Ok(())
    })
    .await
}
