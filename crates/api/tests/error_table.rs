//! `docs/api.md` repeats the error table for readers; this keeps the copy equal to the one
//! declaration in `src/error.rs`: every code listed once, under its own status, none missing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::BTreeMap;

use signet_api::error::ErrorCode;

#[test]
fn the_guides_error_table_lists_every_code_under_its_status() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .expect("docs/api.md");
    let table = guide
        .split("\n## Errors\n")
        .nth(1)
        .expect("an `## Errors` section")
        .split("\n## ")
        .next()
        .expect("the section");
    let mut listed: BTreeMap<String, u16> = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(status) = cells[1].parse::<u16>() else {
            continue; // the header and the rule
        };
        for code in cells[2].split('`').skip(1).step_by(2) {
            assert!(
                listed.insert(code.to_owned(), status).is_none(),
                "`{code}` is listed twice"
            );
        }
    }
    let declared: BTreeMap<String, u16> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.status()))
        .collect();
    assert_eq!(
        listed, declared,
        "docs/api.md's error table must list each code of crates/api/src/error.rs under its status"
    );
}
