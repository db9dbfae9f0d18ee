//! AI agents end to end (issue 14 §2), on both backends: a tokenless request approved as an
//! agent with `signet ai-agent approve`, `signet mcp` driven over stdio with raw JSON-RPC lines
//! (the official Python SDK drives it too: `tests/mcp`), scope refusals, confirmation, the
//! agent's key refused on the machine routes, and no value in any answer.

use serde_json::{Value, json};

use crate::harness::{Backend, TestServer, every_backend, run, run_with_stdin, stderr, stdout};

/// Enrolls a tokenless request in `home`; its id and fingerprint.
fn request(s: &TestServer, home: &std::path::Path, vault: &str, name: &str) -> (String, String) {
    let out = run(
        home,
        &[
            "--json",
            "enroll",
            "--server",
            &s.url,
            "--vault",
            vault,
            "--request",
            "--name",
            name,
        ],
    );
    assert!(out.status.success(), "enroll: {}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    (
        v["machineId"].as_str().expect("id").to_owned(),
        v["fingerprint"].as_str().expect("fingerprint").to_owned(),
    )
}

/// Enrolls in `home` with a bootstrap token an operator issued (pending until approved); its
/// id and fingerprint.
fn bootstrapped(s: &TestServer, home: &std::path::Path, name: &str) -> (String, String) {
    let token = s.op_json(&["token", "bootstrap"])["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let out = run(
        home,
        &[
            "--json", "enroll", "--server", &s.url, "--token", &token, "--name", name,
        ],
    );
    assert!(out.status.success(), "enroll: {}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    (
        v["machineId"].as_str().expect("id").to_owned(),
        v["fingerprint"].as_str().expect("fingerprint").to_owned(),
    )
}

/// Runs `signet mcp` in `home` over these requests (an `initialize` first); the answers by id.
fn mcp(home: &std::path::Path, calls: &[(&str, Value)]) -> Vec<Value> {
    let mut lines = vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for (i, (tool, args)) in calls.iter().enumerate() {
        lines.push(
            json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": {"name": tool, "arguments": args}}),
        );
    }
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = run_with_stdin(home, &["mcp"], &input);
    assert!(out.status.success(), "mcp: {}", stderr(&out));
    let answers: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON message per line"))
        .collect();
    // The initialize answer, then one per call, in order; the notification got none.
    assert_eq!(answers.len(), calls.len() + 1, "{answers:?}");
    assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "signet");
    answers.into_iter().skip(1).collect()
}

fn ok(answer: &Value) -> &Value {
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    &answer["result"]["structuredContent"]
}

fn refused(answer: &Value) -> String {
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    answer["result"]["content"][0]["text"]
        .as_str()
        .expect("text")
        .to_owned()
}

every_backend!(fn an_agent_manages_over_mcp_within_its_scopes_and_never_reads);
fn an_agent_manages_over_mcp_within_its_scopes_and_never_reads(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    let vault = s.op_json(&["vault", "show"])["vaultId"]
        .as_str()
        .expect("vault")
        .to_owned();
    let project = s.op_json(&["project", "create", "apps"])["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let value = "operator-value-9f3k";
    let secret = s.op_json(&[
        "secret",
        "create",
        "--project",
        &project,
        "--name",
        "db",
        "--value",
        value,
    ])["id"]
        .as_str()
        .expect("secret")
        .to_owned();

    let agent_home = s.root.path().join("ai-agent");
    let (agent, agent_fp) = request(&s, &agent_home, &vault, "ops-agent");
    // A person issued the bootstrap token this machine used, so an agent may approve it; the
    // stranger filed a tokenless request, which only a person may approve.
    let (machine, machine_fp) = bootstrapped(&s, &s.machine_home, "web-1");
    let stranger_home = s.root.path().join("stranger");
    let (stranger, stranger_fp) = request(&s, &stranger_home, &vault, "stranger");

    // An unknown scope is a 400, and nothing changes.
    let bad = s.op(&[
        "ai-agent",
        "approve",
        &agent,
        "--fingerprint",
        &agent_fp,
        "--scope",
        "secrets.reveal",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("unknown scope"), "{}", stderr(&bad));
    let approved = s.op_json(&[
        "ai-agent",
        "approve",
        &agent,
        "--fingerprint",
        &agent_fp,
        "--scope",
        "secrets.read",
        "--scope",
        "secrets.write",
        "--scope",
        "machines.write",
    ]);
    assert_eq!(approved["machine"]["status"], "approved");
    let listed = s.op_json(&["ai-agent", "list"]);
    assert_eq!(listed["agents"][0]["machine"]["id"], agent.as_str());

    let answers = mcp(
        &agent_home,
        &[
            ("list_secrets", json!({"project_id": project})),
            ("rotate_secret", json!({"secret_id": secret})),
            (
                "approve_machine",
                json!({"machine_id": machine, "fingerprint": machine_fp}),
            ),
            (
                "grant_secret",
                json!({"machine_id": machine, "secret_id": secret}),
            ),
            ("disable_machine", json!({"machine_id": machine})),
            ("list_machines", json!({})),
            ("query_audit", json!({})),
            (
                "approve_machine",
                json!({"machine_id": agent, "fingerprint": agent_fp}),
            ),
            (
                "approve_machine",
                json!({"machine_id": stranger, "fingerprint": stranger_fp}),
            ),
        ],
    );
    assert_eq!(ok(&answers[0])["secrets"][0]["name"], "db");
    assert_eq!(ok(&answers[1])["version"], 2);
    assert_eq!(ok(&answers[2])["status"], "approved");
    assert_eq!(ok(&answers[3])["grants"][0], secret.as_str());
    assert!(refused(&answers[4]).contains("confirm"));
    refused(&answers[5]); // machines.read not granted
    refused(&answers[6]); // audit.read not granted
    refused(&answers[7]); // never an agent
    refused(&answers[8]); // a tokenless request needs a person

    // The machine reads the rotated value the agent never saw; it appears in no answer.
    let read = s.machine(&["get", &secret]);
    assert!(read.status.success(), "{}", stderr(&read));
    let rotated = stdout(&read).trim().to_owned();
    assert!(rotated.len() >= 16 && rotated != value);
    for a in &answers {
        let text = a.to_string();
        assert!(!text.contains(value) && !text.contains(&rotated), "{text}");
    }

    // The agent's key is refused on every machine route, whatever its scopes.
    let as_machine = run(&agent_home, &["get", &secret]);
    assert!(!as_machine.status.success());
    assert!(!run(&agent_home, &["whoami"]).status.success());

    // Operators change the scopes; disable with confirm; the audit names the agent.
    s.op_json(&[
        "ai-agent",
        "scopes",
        &agent,
        "--scope",
        "audit.read",
        "--scope",
        "machines.write",
    ]);
    let answers = mcp(
        &agent_home,
        &[
            (
                "disable_machine",
                json!({"machine_id": machine, "confirm": true}),
            ),
            ("query_audit", json!({"limit": 500})),
            ("rotate_secret", json!({"secret_id": secret})),
        ],
    );
    assert_eq!(ok(&answers[0])["enabled"], false);
    let records = ok(&answers[1])["records"]
        .as_array()
        .expect("records")
        .clone();
    let by_agent: Vec<_> = records
        .iter()
        .filter(|r| r["actorKind"] == "ai_agent")
        .collect();
    assert!(by_agent.iter().all(|r| r["actorId"] == agent.as_str()));
    for action in [
        "secret_rotate",
        "machine_approve",
        "grant_add",
        "machine_disable",
    ] {
        assert!(
            by_agent
                .iter()
                .any(|r| r["action"] == action && r["result"] == "ok"),
            "{action} by the agent"
        );
    }
    refused(&answers[2]); // secrets.write was taken away
    assert!(!s.machine(&["get", &secret]).status.success(), "disabled");

    // Operators cut the agent off: it no longer authenticates.
    s.op_json(&["ai-agent", "delete", &agent]);
    let answers = mcp(&agent_home, &[("whoami", json!({}))]);
    refused(&answers[0]);
}

every_backend!(fn mcp_answers_protocol_mistakes_with_json_rpc_errors);
fn mcp_answers_protocol_mistakes_with_json_rpc_errors(backend: Backend) {
    let s = TestServer::start_on(backend);
    s.operator_init();
    let vault = s.op_json(&["vault", "show"])["vaultId"]
        .as_str()
        .expect("vault")
        .to_owned();
    let home = s.root.path().join("ai-agent");
    request(&s, &home, &vault, "agent");
    let input = [
        "not json",
        r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_secret"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":[]}}"#,
        r#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/list"}"#,
        // A pending agent-to-be: every call is refused by the server, as a tool result.
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami"}}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    let out = run_with_stdin(&home, &["mcp"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let answers: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let codes: Vec<_> = answers
        .iter()
        .map(|a| a["error"]["code"].as_i64())
        .collect();
    assert_eq!(
        codes,
        [
            Some(-32700),
            Some(-32601),
            Some(-32602),
            Some(-32602),
            Some(-32600),
            None,
            None,
            None
        ]
    );
    let tools = answers[6]["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 13);
    let disable = tools
        .iter()
        .find(|t| t["name"] == "disable_machine")
        .expect("disable_machine");
    assert_eq!(disable["annotations"]["destructiveHint"], true);
    assert_eq!(answers[7]["result"]["isError"], true);
}
