//! The fuzz targets' checks (`fuzz/checks/`) over every committed seed of `fuzz/corpus/`, in the
//! ordinary test build (debug assertions and overflow checks on, as in the fuzz build).
//!
//! This is the regression replay CI runs: the same functions the libFuzzer targets call, fed the
//! same files, without the instrumented build of `fuzz/` that `scripts/fuzz.sh` makes for real
//! fuzzing. The dev-dependency on `signet-server` with `fuzzing` turns on the parsers' module.

use std::path::{Path, PathBuf};

// `cfg(test)`, always true in a test crate, marks the included files as test code for clippy,
// whose `allow-expect-in-tests` then covers their `expect`s as it does in any test module.
#[cfg(test)]
#[path = "../../../fuzz/src/lib.rs"]
mod raw;
#[cfg(test)]
use raw::RawRequest;

#[cfg(test)]
#[path = "../../../fuzz/checks/canonical_path.rs"]
mod canonical_path;
#[cfg(test)]
#[path = "../../../fuzz/checks/cookie_csrf.rs"]
mod cookie_csrf;
#[cfg(test)]
#[path = "../../../fuzz/checks/envelope_open.rs"]
mod envelope_open;
#[cfg(test)]
#[path = "../../../fuzz/checks/identity_files.rs"]
mod identity_files;
#[cfg(test)]
#[path = "../../../fuzz/checks/json_bodies.rs"]
mod json_bodies;
#[cfg(test)]
#[path = "../../../fuzz/checks/signed_request.rs"]
mod signed_request;

/// Every seed of one target, in name order; a target with no seeds is a failure, so a renamed
/// folder cannot pass by replaying nothing.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every seed, naming the seed that panics.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in seeds(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        if let Err(panic) = outcome {
            eprintln!("fuzz seed {} failed its target's checks", path.display());
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn canonical_path_corpus() {
    replay("canonical_path", canonical_path::check);
}

#[test]
fn cookie_csrf_corpus() {
    replay("cookie_csrf", cookie_csrf::check);
}

#[test]
fn envelope_open_corpus() {
    // Decoded from the bytes as libfuzzer-sys decodes a typed target's input; one that does not
    // decode is skipped there too.
    replay("envelope_open", |bytes| {
        let u = arbitrary::Unstructured::new(bytes);
        if let Ok(input) = <envelope_open::Input as arbitrary::Arbitrary>::arbitrary_take_rest(u) {
            envelope_open::check(input);
        }
    });
}

#[test]
fn identity_files_corpus() {
    replay("identity_files", identity_files::check);
}

#[test]
fn json_bodies_corpus() {
    replay("json_bodies", json_bodies::check);
}

#[test]
fn signed_request_corpus() {
    replay("signed_request", signed_request::check);
}
