//! The derive's compile errors: each case in tests/ui fails to compile with the message (and
//! span) recorded next to it.

#[test]
fn derive_errors_point_at_the_mistake() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
