//! The audit vocabulary (`signet_api::audit`) names only what core writes: every action and
//! every refusal reason is used by some service, so the list operators filter and alert on has
//! no entry that can never appear. (That core writes nothing outside it is the compiler's job:
//! the audit writer takes the enums, not text.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::path::Path;

use signet_api::audit::{AuditAction, DenialReason};

/// Every source file under `crates/core/src`, concatenated, without its test module: a word
/// only a test names is not one core writes.
fn core_source() -> String {
    let mut out = String::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                let text = std::fs::read_to_string(&path).expect("read file");
                // Only the code before a file's test module writes records.
                out.push_str(text.split("#[cfg(test)]").next().unwrap_or_default());
            }
        }
    }
    out
}

/// `Enum::Variant` for a word, from its Debug name (the variant's own name).
fn path(enum_name: &str, variant: impl std::fmt::Debug) -> String {
    format!("{enum_name}::{variant:?}")
}

#[test]
fn every_action_and_reason_is_written_by_some_service() {
    let src = core_source();
    let unused: Vec<String> = AuditAction::ALL
        .iter()
        .map(|a| path("AuditAction", a))
        .chain(DenialReason::ALL.iter().map(|r| path("DenialReason", r)))
        .filter(|p| {
            // `AuditAction::SecretRead` must not count as a use of `AuditAction::SecretReadX`.
            !src.match_indices(p.as_str()).any(|(at, _)| {
                !src[at + p.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect();
    assert!(
        unused.is_empty(),
        "declared in crates/api/src/audit.rs but never written by core: {unused:?}"
    );
}
