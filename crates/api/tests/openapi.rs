//! `docs/openapi.json` is the generated document, byte for byte: a change to a wire type that
//! is not also a reviewed change to the committed document fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_document_is_the_generated_one() {
    let generated = signet_api::openapi::document_json();
    let path = committed_path();
    if std::env::var_os("SIGNET_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the document generated from crates/api; review the \
         change and regenerate it with `SIGNET_BLESS=1 cargo test -p signet-api --test openapi`"
    );
}

#[test]
fn document_is_openapi_3_1_with_every_schema_it_references() {
    let doc: serde_json::Value =
        serde_json::from_str(&signet_api::openapi::document_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }
    // Every operation says who may call it: machine routes name the four signed headers.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if op["tags"][0] == "machine" {
                let req = &op["security"][0];
                for h in ["machine_id", "timestamp", "nonce", "signature"] {
                    assert!(req.get(h).is_some(), "{path} lacks {h}");
                }
            }
        }
    }
}

#[test]
fn machine_paths_are_the_route_constants() {
    use signet_api::route::{enroll, health, machine};
    let doc = signet_api::openapi::document();
    let declared: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
    for p in [
        machine::SECRET,
        machine::SECRETS,
        machine::SECRETS_LIST,
        machine::SECRETS_EXPORT,
        machine::SECRETS_POLL,
        machine::CLI_PROJECTS,
        machine::CLI_SECRETS,
        machine::WHOAMI,
        enroll::BOOTSTRAP,
        enroll::REGISTER,
        enroll::REQUEST,
        enroll::BOOTSTRAP_SCRIPT,
        health::LIVE,
        health::READY,
        health::OPENAPI,
    ] {
        assert!(declared.contains(&p), "{p} is not in the document");
    }
}

/// The document keys schemas by their type's bare name, so two wire types of the same name in
/// different modules would silently share one schema (the second replacing the first, and every
/// route of the other pointing at the wrong body). Every type that derives `ToSchema` in
/// `crates/api/src` must have a name of its own.
#[test]
fn every_wire_type_has_a_schema_name_of_its_own() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut derives_schema = false;
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with("#[derive(") {
                    derives_schema = line.contains("ToSchema");
                } else if let Some(rest) = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "))
                {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if derives_schema
                        && let Some(first) = seen.insert(name.clone(), path.display().to_string())
                    {
                        panic!(
                            "`{name}` is a schema in both {first} and {}",
                            path.display()
                        );
                    }
                    derives_schema = false;
                }
            }
        }
    }
    assert!(seen.contains_key("SecretMetadataAnswer") && seen.contains_key("SecretAnswer"));
}
