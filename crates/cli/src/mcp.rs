//! `signet mcp`: a Model Context Protocol server over stdio that acts as one AI agent.
//!
//! Framing is the MCP stdio transport: one JSON-RPC 2.0 message per line on stdin and stdout,
//! UTF-8, no embedded newlines; anything else (logs) goes to stderr. Requests are answered in
//! order. Supported methods: `initialize`, `ping`, `tools/list`, `tools/call`; notifications
//! (no `id`) are read and never answered. The MCP revisions this server speaks are
//! [`PROTOCOL_VERSIONS`]; `initialize` echoes the client's if it is one of them, else offers
//! the newest.
//!
//! Every tool is one signed call on the agent routes (`signet_client::AgentClient`), so the
//! server, not this process, decides what the agent may do; no agent route returns a value, so
//! no tool result can hold one. Tools that take something away (`disable_machine`,
//! `revoke_secret`) refuse unless called with `confirm: true`, and say so. Refusals, from here
//! or from the server, are tool results with `isError: true`, which the model reads; protocol
//! mistakes are JSON-RPC errors.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Map, Value, json};
use signet_client::api::admin::audit::AuditQueryRequest;
use signet_client::api::ai_agent::AgentCreateSecretRequest;
use signet_client::{AgentClient, ClientError, SignetHome};
use std::io::{BufRead as _, Read as _, Write as _};
use zeroize::Zeroizing;

/// MCP revisions understood, newest first.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The longest line read from stdin (a secret value travels in one): 1 MiB.
const MAX_LINE: u64 = 1 << 20;

/// `signet mcp`.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The agent's identity (a machine identity approved as an AI agent): its identity.json,
    /// that file's folder, or a vault id under $SIGNET_HOME/vaults [default: the only one].
    #[arg(long, env = "SIGNET_IDENTITY", value_name = "PATH")]
    identity: Option<PathBuf>,
}

/// Runs the server until stdin closes.
pub async fn run(args: McpArgs) -> anyhow::Result<ExitCode> {
    let home = SignetHome::from_env()?;
    let client = AgentClient::new(home.load(args.identity.as_deref())?)?;
    // Standard input is read on a blocking thread (the runtime has no async stdin here), one
    // message at a time; the answers are written in order as each is handled.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Line>(1);
    let reader = tokio::task::spawn_blocking(move || read_lines(&tx));
    let mut out = std::io::stdout();
    while let Some(line) = rx.recv().await {
        let reply = match line {
            Line::TooLong => Some(error(Value::Null, -32600, "message too large")),
            Line::Message(text) => handle(&client, &text).await,
        };
        if let Some(reply) = reply {
            let mut bytes = serde_json::to_vec(&reply)?;
            bytes.push(b'\n');
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    reader.await??;
    Ok(ExitCode::SUCCESS)
}

/// One line of standard input.
enum Line {
    /// A message's bytes (it may hold a secret's value on its way in: wiped when dropped).
    Message(Zeroizing<Vec<u8>>),
    /// A line over [`MAX_LINE`], skipped.
    TooLong,
}

/// Reads lines until end of input or until the receiver is gone. Blank lines are skipped.
fn read_lines(tx: &tokio::sync::mpsc::Sender<Line>) -> std::io::Result<()> {
    let mut input = std::io::stdin().lock();
    loop {
        let mut buf = Zeroizing::new(Vec::new());
        let n = (&mut input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let line = if u64::try_from(n).unwrap_or(u64::MAX) > MAX_LINE {
            // The rest of an over-long line cannot be parsed as a message; skip to its end.
            if !buf.ends_with(b"\n") {
                skip_line(&mut input)?;
            }
            Line::TooLong
        } else if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            Line::Message(buf)
        };
        if tx.blocking_send(line).is_err() {
            return Ok(());
        }
    }
}

/// Discards input up to and including the next newline, a buffer at a time.
fn skip_line(r: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            r.consume(i + 1);
            return Ok(());
        }
        let n = chunk.len();
        r.consume(n);
    }
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// One message in, at most one out.
async fn handle(client: &AgentClient, text: &[u8]) -> Option<Value> {
    let Ok(message) = serde_json::from_slice::<Value>(text) else {
        return Some(error(Value::Null, -32700, "parse error"));
    };
    let Some(obj) = message.as_object() else {
        return Some(error(Value::Null, -32600, "invalid request"));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error(
            obj.get("id").cloned().unwrap_or(Value::Null),
            -32600,
            "invalid request",
        ));
    }
    let method = obj.get("method").and_then(Value::as_str);
    let id = match obj.get("id") {
        // A response from the client (we never ask it anything) or a notification: no answer.
        None => return None,
        Some(id) if id.is_string() || id.is_i64() || id.is_u64() => id.clone(),
        Some(_) => return Some(error(Value::Null, -32600, "invalid request id")),
    };
    let Some(method) = method else {
        return Some(error(id, -32600, "invalid request"));
    };
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    Some(match method {
        "initialize" => result(id, initialize(&params)),
        "ping" => result(id, json!({})),
        "tools/list" => result(id, json!({ "tools": tools() })),
        "tools/call" => {
            let Some(name) = params.get("name").and_then(Value::as_str) else {
                return Some(error(id, -32602, "tools/call needs a tool name"));
            };
            if !tools()
                .iter()
                .any(|t| t.get("name").and_then(Value::as_str) == Some(name))
            {
                return Some(error(id, -32602, &format!("unknown tool: {name}")));
            }
            let empty = Map::new();
            let args = match params.get("arguments") {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(a)) => a,
                Some(_) => return Some(error(id, -32602, "arguments must be an object")),
            };
            result(id, call(client, name, args).await)
        }
        _ => error(id, -32601, "method not found"),
    })
}

fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(PROTOCOL_VERSIONS[0]);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "signet", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "Manage a Signet vault as an AI agent. You can list and create projects \
            and secrets, rotate secrets, approve (with the machine's fingerprint), enable and \
            disable machines, grant and revoke secrets, and query the audit log, as far as your \
            scopes allow. You can never read a secret's value. disable_machine and \
            revoke_secret need confirm: true; ask the person first.",
    })
}

/// A tool's declaration.
fn tool(
    name: &str,
    description: &str,
    properties: Value,
    required: &[&str],
    hints: Value,
) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
        "annotations": hints,
    })
}

fn read_only() -> Value {
    json!({"readOnlyHint": true, "openWorldHint": false})
}

fn writes(destructive: bool, idempotent: bool) -> Value {
    json!({"readOnlyHint": false, "destructiveHint": destructive,
        "idempotentHint": idempotent, "openWorldHint": false})
}

/// Every tool, with its JSON Schema.
fn tools() -> Vec<Value> {
    let s = |d: &str| json!({"type": "string", "description": d});
    let confirm = json!({"type": "boolean",
        "description": "Must be true: this takes access away. Ask the person before setting it."});
    vec![
        tool(
            "whoami",
            "This agent's id, name, scopes and project allowlist.",
            json!({}),
            &[],
            read_only(),
        ),
        tool(
            "list_projects",
            "List the projects this agent may see (scope projects.read).",
            json!({}),
            &[],
            read_only(),
        ),
        tool(
            "create_project",
            "Create a project (scope projects.write).",
            json!({"name": s("The project's name.")}),
            &["name"],
            writes(false, false),
        ),
        tool(
            "list_secrets",
            "List a project's secrets: names, ids, versions; never values \
            (scope secrets.read).",
            json!({"project_id": s("The project's id (proj_...).")}),
            &["project_id"],
            read_only(),
        ),
        tool(
            "create_secret",
            "Create a secret (scope secrets.write). Give value or fields, or \
            generate: true for a server-generated value nobody sees. The value is never returned.",
            json!({
                "project_id": s("The project's id (proj_...)."),
                "name": s("The secret's name."),
                "value": s("A standard secret's value (write-only)."),
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "A structured secret's fields (write-only)."},
                "generate": {"type": "boolean", "description": "Generate the value on the server."},
            }),
            &["project_id", "name"],
            writes(false, false),
        ),
        tool(
            "rotate_secret",
            "Rotate a secret to a new server-generated value (scope \
            secrets.write). The value is never returned.",
            json!({"secret_id": s("The secret's id (sk_...).")}),
            &["secret_id"],
            writes(false, false),
        ),
        tool(
            "list_machines",
            "List machines with their state, fingerprint, projects and grants \
            (scope machines.read).",
            json!({}),
            &[],
            read_only(),
        ),
        tool(
            "approve_machine",
            "Approve a pending machine (scope machines.write). The \
            fingerprint must be the one the machine printed, as the person read it to you.",
            json!({"machine_id": s("The machine's id."),
                "fingerprint": s("The fingerprint the machine printed.")}),
            &["machine_id", "fingerprint"],
            writes(false, true),
        ),
        tool(
            "enable_machine",
            "Let a disabled machine read again (scope machines.write).",
            json!({"machine_id": s("The machine's id.")}),
            &["machine_id"],
            writes(false, true),
        ),
        tool(
            "disable_machine",
            "Stop a machine from reading, reversibly (scope \
            machines.write). Needs confirm: true.",
            json!({"machine_id": s("The machine's id."), "confirm": confirm.clone()}),
            &["machine_id", "confirm"],
            writes(true, true),
        ),
        tool(
            "grant_secret",
            "Let a machine read one secret (scope machines.write).",
            json!({"machine_id": s("The machine's id."), "secret_id": s("The secret's id.")}),
            &["machine_id", "secret_id"],
            writes(false, true),
        ),
        tool(
            "revoke_secret",
            "Take one secret back from a machine (scope machines.write). \
            Needs confirm: true.",
            json!({"machine_id": s("The machine's id."), "secret_id": s("The secret's id."),
                "confirm": confirm}),
            &["machine_id", "secret_id", "confirm"],
            writes(true, true),
        ),
        tool(
            "query_audit",
            "Query the audit log, newest first (scope audit.read).",
            json!({
                "action": s("Only this action, e.g. secret_read."),
                "actor_id": s("Only this actor id."),
                "result": s("Only ok, denied or failed."),
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                "before_seq": {"type": "integer", "minimum": 1},
            }),
            &[],
            read_only(),
        ),
    ]
}

/// A tool's answer: the JSON as structured content and as text.
fn success(value: &impl serde::Serialize) -> Value {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": v,
        "isError": false,
    })
}

/// A refusal the model should read.
fn refusal(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

fn refused(e: &ClientError) -> Value {
    // The server's answers are uniform on purpose; say what each can mean, so the model can
    // tell the person rather than retry.
    let hint = match e.status() {
        Some(401) => {
            " (HTTP 401: this agent's key was not accepted: not approved as an agent, \
            revoked, or its clock is off)"
        }
        Some(403) => {
            " (HTTP 403: outside this agent's scopes or project allowlist, an agent as \
            target, or no such object; an operator can change the scopes)"
        }
        Some(status) => &format!(" (HTTP {status})"),
        None => "",
    };
    refusal(&format!("The Signet server refused: {e}{hint}"))
}

/// A required string argument, or the refusal that names it.
fn arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, Value> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| refusal(&format!("Missing argument `{name}` (a string).")))
}

fn confirmed(args: &Map<String, Value>, what: &str) -> Result<(), Value> {
    if args.get("confirm").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(refusal(&format!(
            "Not done: {what} takes access away, so it needs `confirm: true`. Ask the person \
             to confirm, then call again with confirm: true."
        )))
    }
}

async fn call(client: &AgentClient, name: &str, args: &Map<String, Value>) -> Value {
    match call_inner(client, name, args).await {
        Ok(v) | Err(v) => v,
    }
}

async fn call_inner(
    client: &AgentClient,
    name: &str,
    args: &Map<String, Value>,
) -> Result<Value, Value> {
    let r = match name {
        "whoami" => client.whoami().await.map(|a| success(&a)),
        "list_projects" => client.projects().await.map(|a| success(&a)),
        "create_project" => client
            .create_project(arg(args, "name")?)
            .await
            .map(|a| success(&a)),
        "list_secrets" => client
            .secrets(arg(args, "project_id")?)
            .await
            .map(|a| success(&a)),
        "create_secret" => {
            let request = create_request(args)?;
            client.create_secret(&request).await.map(|a| success(&a))
        }
        "rotate_secret" => client
            .rotate_secret(arg(args, "secret_id")?)
            .await
            .map(|a| success(&a)),
        "list_machines" => client.machines().await.map(|a| success(&a)),
        "approve_machine" => client
            .approve_machine(arg(args, "machine_id")?, arg(args, "fingerprint")?)
            .await
            .map(|a| success(&a)),
        "enable_machine" => client
            .set_machine_enabled(arg(args, "machine_id")?, true)
            .await
            .map(|a| success(&a)),
        "disable_machine" => {
            let id = arg(args, "machine_id")?;
            confirmed(args, "disabling a machine")?;
            client
                .set_machine_enabled(id, false)
                .await
                .map(|a| success(&a))
        }
        "grant_secret" => client
            .set_grant(arg(args, "machine_id")?, arg(args, "secret_id")?, true)
            .await
            .map(|a| success(&a)),
        "revoke_secret" => {
            let (m, s) = (arg(args, "machine_id")?, arg(args, "secret_id")?);
            confirmed(args, "revoking a grant")?;
            client.set_grant(m, s, false).await.map(|a| success(&a))
        }
        "query_audit" => {
            let query = audit_query(args)?;
            client.audit(&query).await.map(|a| success(&a))
        }
        _ => return Err(refusal("unknown tool")),
    };
    r.map_err(|e| refused(&e))
}

fn create_request(args: &Map<String, Value>) -> Result<AgentCreateSecretRequest, Value> {
    let value = match args.get("value") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(Zeroizing::new(v.clone())),
        Some(_) => return Err(refusal("`value` must be a string.")),
    };
    let fields = match args.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Object(f)) => {
            let mut out = std::collections::BTreeMap::new();
            for (k, v) in f {
                let Some(v) = v.as_str() else {
                    return Err(refusal("every field of `fields` must be a string."));
                };
                out.insert(k.clone(), Zeroizing::new(v.to_owned()));
            }
            Some(out)
        }
        Some(_) => return Err(refusal("`fields` must be an object of strings.")),
    };
    let generate = match args.get("generate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(refusal("`generate` must be a boolean.")),
    };
    Ok(AgentCreateSecretRequest {
        project_id: arg(args, "project_id")?.to_owned(),
        name: arg(args, "name")?.to_owned(),
        value,
        fields,
        generate,
    })
}

fn audit_query(args: &Map<String, Value>) -> Result<AuditQueryRequest, Value> {
    let text = |name: &str| -> Result<Option<String>, Value> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(refusal(&format!("`{name}` must be a string."))),
        }
    };
    let number = |name: &str| -> Result<Option<u64>, Value> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| refusal(&format!("`{name}` must be a positive integer."))),
        }
    };
    let limit = number("limit")?
        .map(|l| u32::try_from(l).unwrap_or(u32::MAX))
        .map(|l| l.clamp(1, 1000));
    Ok(AuditQueryRequest {
        action: text("action")?,
        actor_id: text("actor_id")?,
        result: text("result")?,
        limit,
        before_seq: number("before_seq")?,
        ..AuditQueryRequest::default()
    })
}
