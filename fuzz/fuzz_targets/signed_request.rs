//! libFuzzer's entry to `checks/signed_request.rs`, whose checks `crates/cli/tests/fuzz_corpus.rs`
//! also runs over the committed corpus in every `cargo test`.

#![no_main]

use signet_fuzz::RawRequest;

#[path = "../checks/signed_request.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
