//! libFuzzer's entry to `checks/canonical_path.rs`, whose checks `crates/cli/tests/fuzz_corpus.rs`
//! also runs over the committed corpus in every `cargo test`.

#![no_main]

#[path = "../checks/canonical_path.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
