//! Rules about the shape of `crates/core/src`, checked by reading the source:
//!
//! - no import circle between its top-level modules: every `crate::<module>` reference (in a
//!   `use`, grouped or not, or in a path) is an edge, and the graph must have no cycle;
//! - no type with more than 30 inherent methods, counted over every `impl Type {` block in
//!   every file (so a type cannot grow by spreading its methods over modules); this rule is
//!   checked over every crate of the workspace (`crates/*/src`), not only core.
//!
//! The source is read as text, not parsed: comments and string literals are stripped first, and
//! the checks only look for `crate::` paths and `fn` items at the first indentation level of an
//! `impl` block, which `cargo fmt` keeps stable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most inherent methods one type may have.
const MAX_METHODS: usize = 30;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(module name, source text)` for every top-level module: `src/x.rs` and `src/x/**.rs`.
fn modules() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![src_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src_dir()).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("a name")
                .trim_end_matches(".rs")
                .to_owned();
            let text = std::fs::read_to_string(&path).expect("read module");
            out.push((top, strip_comments_and_strings(&text)));
        }
    }
    out.sort();
    out
}

/// Removes `//` comments, `/* */` comments and the contents of string and char literals, so
/// a `crate::x` in a doc comment or a message is not an edge.
fn strip_comments_and_strings(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // Raw string: r"..." or r#"..."#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= b.len() {
                        break;
                    }
                    if b[j] == b'"' && b[j + 1..].iter().take(hashes).all(|&c| c == b'#') {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A char literal ('a', '\n', '\u{..}') or a lifetime ('a): only the former is
                // skipped.
                let close = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match close {
                    Some(end) => {
                        out.push_str("' '");
                        i = end + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            _ => {
                // Copy one whole UTF-8 character.
                let ch = s[i..].chars().next().expect("in bounds");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// The top-level modules `text` names through `crate::`, including grouped uses
/// (`use crate::{a::X, b::{Y, Z}}`).
fn references(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest_trim = rest.trim_start();
        if let Some(group) = rest_trim.strip_prefix('{') {
            // The top-level items of the group, split at depth-0 commas.
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        push_first(&item, known, &mut out);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            push_first(&item, known, &mut out);
        } else {
            push_first(rest_trim, known, &mut out);
        }
    }
    out
}

/// Adds the first path segment of `path` if it names a module (`CoreError` and other root
/// re-exports are not modules).
fn push_first(path: &str, known: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    let first: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if known.contains(&first) {
        out.insert(first);
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    let known: BTreeSet<String> = mods.iter().map(|(m, _)| m.clone()).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &mods {
        let edges = g.entry(m.clone()).or_default();
        for r in references(text, &known) {
            if &r != m {
                edges.insert(r);
            }
        }
    }
    // The crate root declares and re-exports everything; it is the top, not a module.
    g.remove("lib");
    for edges in g.values_mut() {
        edges.remove("lib");
    }
    g
}

/// A cycle in `g`, as the modules along it (first repeated at the end), if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(n.to_owned(), Mark::Open);
        path.push(n.to_owned());
        for next in g.get(n).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = path.iter().position(|p| p == next).expect("on the path");
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, g, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(n.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in g.keys() {
        if marks.get(n).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(n, g, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn core_modules_import_each_other_without_a_circle() {
    let g = graph();
    assert!(g.len() > 10, "found the modules: {:?}", g.keys());
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "import circle inside crates/core/src: {}\n(move the shared piece to a lower \
             module, or reach it through the context)",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_circle_and_reads_grouped_uses() {
    let known: BTreeSet<String> = ["audit", "auth", "role", "network"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let text = strip_comments_and_strings(
        "use crate::{CoreError, auth::{A, B}, role::P};\n\
         // use crate::network::X;\n\
         let s = \"crate::network\";\n\
         fn f() -> crate::audit::V { todo!() }",
    );
    let refs = references(&text, &known);
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["audit", "auth", "role"]
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("audit".into()).or_default().insert("auth".into());
    g.entry("auth".into()).or_default().insert("role".into());
    g.entry("role".into()).or_default().insert("audit".into());
    let cycle = find_cycle(&g).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}

/// Every `.rs` file under `dir`, as text.
fn sources_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                out.push(std::fs::read_to_string(&path).expect("read file"));
            }
        }
    }
    out
}

/// `(crate/type, method count)` over every inherent `impl Type {` / `impl<..> Type<..> {`
/// block in the `src` of every crate of the workspace (`crates/*/src`).
fn method_counts() -> BTreeMap<String, usize> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).expect("read crates") {
        let dir = entry.expect("crate dir").path();
        if dir.join("src").is_dir() {
            let name = dir
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            count_methods(&name, &sources_under(&dir.join("src")), &mut counts);
        }
    }
    counts
}

/// Adds the inherent methods of each type in `texts` (one crate's files) to `counts`, keyed
/// `crate/Type`: types of the same name in two crates are two types.
fn count_methods(krate: &str, texts: &[String], counts: &mut BTreeMap<String, usize>) {
    for text in texts {
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(head) = line.strip_prefix("impl") {
                current = None;
                let head = head.trim_end();
                // Trait impls (`impl X for Y`) are not the type's own surface.
                if head.ends_with('{') && !head.contains(" for ") {
                    let head = head.trim_end_matches('{').trim();
                    let head = if head.starts_with('<') {
                        // Skip the generics: `impl<T: X> Type<T>`.
                        let mut depth = 0;
                        let cut = head
                            .char_indices()
                            .find(|&(_, c)| {
                                match c {
                                    '<' => depth += 1,
                                    '>' => depth -= 1,
                                    _ => {}
                                }
                                depth == 0
                            })
                            .map_or(0, |(i, _)| i + 1);
                        head[cut..].trim()
                    } else {
                        head
                    };
                    let name: String = head
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        let key = format!("{krate}/{name}");
                        counts.entry(key.clone()).or_insert(0);
                        current = Some(key);
                    }
                }
                continue;
            }
            if line.starts_with('}') {
                current = None;
                continue;
            }
            let Some(ty) = &current else { continue };
            let item = line.strip_prefix("    ").unwrap_or("");
            if item.starts_with(' ') {
                continue;
            }
            let item = item
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub(super) ")
                .trim_start_matches("pub ")
                .trim_start_matches("const ")
                .trim_start_matches("async ");
            if item.starts_with("fn ") {
                *counts.get_mut(ty).expect("entered") += 1;
            }
        }
    }
}

#[test]
fn no_type_in_any_crate_has_more_than_thirty_methods() {
    let counts = method_counts();
    for seen in ["core/Signet", "client/OperatorClient", "server/ApiError"] {
        assert!(
            counts.get(seen).copied().unwrap_or(0) > 0,
            "the counter sees {seen}'s methods: {counts:?}"
        );
    }
    let over: Vec<_> = counts.iter().filter(|(_, n)| **n > MAX_METHODS).collect();
    assert!(
        over.is_empty(),
        "types over {MAX_METHODS} methods (split them by area): {over:?}\nall: {counts:?}"
    );
}
