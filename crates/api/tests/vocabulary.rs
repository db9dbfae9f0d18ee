//! `docs/api.md` lists the audit log's vocabulary for operators who filter and alert on it;
//! this keeps both lists equal to the one declaration in `src/audit.rs`, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use signet_api::audit::{AuditAction, DenialReason};

/// The texts in the first column of the table under `### {heading}`.
fn listed(guide: &str, heading: &str) -> Vec<String> {
    let table = guide
        .split(&format!("\n### {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a `### {heading}` section"))
        .split("\n#")
        .next()
        .expect("the section");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('`').nth(1).expect("a code cell").to_owned())
        .collect()
}

#[test]
fn the_guide_lists_every_action_and_reason_once_in_declaration_order() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .expect("docs/api.md");
    let actions: Vec<String> = AuditAction::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let reasons: Vec<String> = DenialReason::ALL
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(listed(&guide, "Actions (`action`)"), actions);
    assert_eq!(listed(&guide, "Refusal reasons (in `detail`)"), reasons);
}
