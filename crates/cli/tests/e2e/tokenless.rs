use crate::harness::{Backend, TestServer, every_backend, stderr, stdout};

every_backend!(fn a_tokenless_request_is_approved_only_with_its_fingerprint);
fn a_tokenless_request_is_approved_only_with_its_fingerprint(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    let vault = s.op_json(&["vault", "show"])["vaultId"]
        .as_str()
        .expect("vault")
        .to_owned();
    let out = s.machine(&[
        "enroll",
        "--server",
        &s.url,
        "--vault",
        &vault,
        "--request",
        "--name",
        "edge-7",
    ]);
    assert!(out.status.success(), "request: {}", stderr(&out));
    let printed = stdout(&out);
    let ident: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.machine_identity()).expect("identity"))
            .expect("json");
    let machine = ident["machineId"].as_str().expect("id").to_owned();
    let listed = s.op_json(&["machine", "list"]);
    let fp = listed["machines"]
        .as_array()
        .expect("machines")
        .iter()
        .find(|m| m["id"] == machine.as_str())
        .expect("listed")["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    assert!(
        printed.contains(&fp),
        "the machine prints its fingerprint: {printed}"
    );

    // No fingerprint, or the wrong one: refused, and the machine stays pending.
    assert!(!s.op(&["machine", "approve", &machine]).status.success());
    let wrong = "0000-0000-0000-0000-0000";
    assert!(
        !s.op(&["machine", "approve", &machine, "--fingerprint", wrong])
            .status
            .success()
    );
    let get = s.machine(&["get", "sk_AAAAAAAAAA"]);
    assert!(!get.status.success());
    assert_eq!(
        s.op_json(&["machine", "list"])["machines"][0]["status"],
        "pending"
    );

    // The right one: approved.
    let approved = s.op_json(&["machine", "approve", &machine, "--fingerprint", &fp]);
    assert_eq!(approved["status"], "approved");

    // The vault setting turns tokenless requests off.
    s.op_json(&["vault", "settings", "--tokenless", "off"]);
    let other = tempfile::tempdir().expect("tmp");
    let out = crate::harness::run(
        other.path(),
        &["enroll", "--server", &s.url, "--vault", &vault, "--request"],
    );
    assert!(!out.status.success(), "tokenless requests are off");
}
