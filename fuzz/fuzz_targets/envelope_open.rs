//! libFuzzer's entry to `checks/envelope_open.rs`, whose checks `crates/cli/tests/fuzz_corpus.rs`
//! also runs over the committed corpus in every `cargo test`.

#![no_main]

#[path = "../checks/envelope_open.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|input: check::Input| check::check(input));
