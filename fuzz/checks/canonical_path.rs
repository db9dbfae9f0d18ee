//! The path guard: `CanonicalPath::parse` over any request target.

use signet_proto::{CanonicalPath, ProtocolError};

/// The target: one input.
pub fn check(data: &[u8]) {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    match CanonicalPath::parse(target) {
        Ok(path) => {
            // Parsing is the identity on what it accepts, and idempotent.
            assert_eq!(path.as_str(), target);
            assert_eq!(CanonicalPath::parse(path.as_str()), Ok(path.clone()));
            check_canonical(target);
        }
        Err(e) => {
            assert!(matches!(
                e,
                ProtocolError::NonCanonicalPath | ProtocolError::QueryString
            ));
            assert!(e.is_malformed_request());
        }
    }
}

/// What "canonical" promises, checked independently of the parser: one spelling per resource,
/// and nothing that a decoding router, log or header could read as a different path.
fn check_canonical(path: &str) {
    assert!(path.starts_with('/'));
    assert!(!path.contains('?') && !path.contains('#'));
    if path == "/" {
        return;
    }
    for segment in path[1..].split('/') {
        assert!(!segment.is_empty(), "empty segment in {path:?}");
        assert!(segment != "." && segment != "..", "dot segment in {path:?}");
        let bytes = segment.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = &segment[i + 1..i + 3];
                assert!(
                    hex.bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                );
                let octet = u8::from_str_radix(hex, 16).expect("checked hex");
                assert!(!octet.is_ascii_alphanumeric() && !b"/%.-_~".contains(&octet));
                assert!(!octet.is_ascii_control());
                decoded.push(octet);
                i += 3;
            } else {
                assert!(
                    bytes[i].is_ascii_graphic(),
                    "raw byte {:#x} in {path:?}",
                    bytes[i]
                );
                assert!(!b"\\\"<>^`{|}[]".contains(&bytes[i]));
                decoded.push(bytes[i]);
                i += 1;
            }
        }
        let text = std::str::from_utf8(&decoded).expect("decoded segment is UTF-8");
        assert!(text != "." && text != "..");
    }
}
