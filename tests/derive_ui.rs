//! Misuse of the derives fails to compile, with the error on the tokens at
//! fault. Each `tests/ui/*.rs` is one misuse; its `.stderr` is the expected
//! compiler output (regenerate with `TRYBUILD=overwrite` and review).

#[test]
fn misuse_is_a_compile_error_at_the_bad_tokens() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
