//! Every JSON request body the server accepts, parsed from arbitrary bytes the way each handler
//! parses it. Beyond not panicking: a refusal is always a plain 400, and its message never
//! quotes a value from the body (a body may carry a secret or a password).

use signet_server::error::ErrorCode;
use signet_server::fuzzing::json_bodies;

/// The target: one input.
pub fn check(data: &[u8]) {
    // String values that cannot be in a message by chance: long, and with a digit, which no
    // field name has. A key is named in "unknown field" messages by design, so a value that a
    // key contains is left out.
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        collect(&v, &mut values, &mut keys);
    }
    values.retain(|v| !keys.iter().any(|k| k.contains(v.as_str())));
    for (name, verdict) in json_bodies(data) {
        let Err(e) = verdict else { continue };
        assert_eq!(e.code(), ErrorCode::MalformedRequest, "{name}");
        let shown = format!("{e:?}");
        for v in &values {
            assert!(
                !shown.contains(v.as_str()),
                "{name} quoted a value: {shown}"
            );
        }
    }
}

fn collect(v: &serde_json::Value, values: &mut Vec<String>, keys: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s)
            if s.len() >= 8
                && s.chars().all(|c| c.is_ascii_alphanumeric())
                && s.chars().any(|c| c.is_ascii_digit()) =>
        {
            values.push(s.clone())
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, values, keys)),
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                keys.push(k.clone());
                collect(v, values, keys);
            }
        }
        _ => {}
    }
}
