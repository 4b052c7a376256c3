//! Snapshot tests of the `ttlab` command line: help texts, summaries, errors
//! and exit codes, as a user sees them. Cases live in `tests/cmd/*.toml`;
//! regenerate the expected output with `TRYCMD=overwrite cargo test -p ttlab`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
