"""`signet mcp` driven by the official MCP Python SDK (PyPI `mcp`) as the client, over stdio,
against a real `signet server`: tool listing, calls within the agent's scopes, calls outside
them refused, destructive tools refused without `confirm: true`, and no secret value in any
tool result (every value written, and every value a machine later read, is searched for in
every result)."""

import asyncio
import importlib.util
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

_spec = importlib.util.spec_from_file_location(
    "signet_sdk_conftest", Path(__file__).resolve().parents[1] / "sdk" / "conftest.py"
)
_sdk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sdk)
Server = _sdk.Server
SIGNET = _sdk.SIGNET

TOOLS = {
    "whoami", "list_projects", "create_project", "list_secrets", "create_secret",
    "rotate_secret", "list_machines", "approve_machine", "enable_machine", "disable_machine",
    "grant_secret", "revoke_secret", "query_audit",
}


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(Path(tmp))
        try:
            yield s
        finally:
            s.stop()


def enroll(server, home: Path, name: str) -> dict:
    return json.loads(server.run(
        home, "--json", "enroll", "--server", server.url, "--vault", server.vault,
        "--request", "--name", name,
    ))


def bootstrapped(server, home: Path, name: str) -> dict:
    """Enrolls with a bootstrap token an operator issued: pending until approved."""
    token = server.op("token", "bootstrap")["token"]
    return json.loads(server.run(
        home, "--json", "enroll", "--server", server.url, "--token", token, "--name", name,
    ))


def machine_get(home: Path, secret: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SIGNET_HOME=str(home))
    env.pop("SIGNET_IDENTITY", None)
    return subprocess.run([SIGNET, "get", secret], env=env, capture_output=True, text=True)


class Session:
    """Records every tool result, so the test can search them all at the end."""

    def __init__(self, session: ClientSession):
        self.session = session
        self.results: list[str] = []

    async def call(self, tool: str, /, **arguments):
        r = await self.session.call_tool(tool, arguments)
        dumped = json.dumps({
            "content": [c.model_dump(mode="json") for c in r.content],
            "structured": r.structured_content,
            "isError": r.is_error,
        })
        self.results.append(dumped)
        return r

    async def ok(self, tool: str, /, **arguments) -> dict:
        r = await self.call(tool, **arguments)
        assert not r.is_error, f"{tool}: {r.content}"
        return r.structured_content

    async def refused(self, tool: str, /, **arguments) -> str:
        r = await self.call(tool, **arguments)
        assert r.is_error, f"{tool} should be refused: {r.structured_content}"
        return " ".join(c.text for c in r.content)


async def drive(server, agent_home: Path, scenario):
    params = StdioServerParameters(
        command=SIGNET, args=["mcp"],
        env={"SIGNET_HOME": str(agent_home), "PATH": os.environ.get("PATH", "")},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "signet"
            s = Session(session)
            await scenario(s)
            return s.results


def test_an_agent_manages_through_mcp_and_never_sees_a_value(server):
    root = server.root
    agent_home, machine_home = root / "agent", root / "target-machine"
    project = server.op("project", "create", "apps")["id"]
    written = ["first-value-Xq9!", "agent-written-value-Zr4#"]
    db = server.op("secret", "create", "--project", project, "--name", "db",
                   "--value", written[0])["id"]

    agent = enroll(server, agent_home, "ops-agent")
    approved = server.op(
        "ai-agent", "approve", agent["machineId"], "--fingerprint", agent["fingerprint"],
        "--scope", "projects.read", "--scope", "secrets.read", "--scope", "secrets.write",
        "--scope", "machines.read", "--scope", "machines.write",
    )
    assert approved["scopes"] == ["projects.read", "secrets.read", "secrets.write",
                                  "machines.read", "machines.write"]
    # A person issued this machine's bootstrap token, so the agent may approve it; a tokenless
    # request (anyone can file one) is refused to the agent, fingerprint or not.
    target = bootstrapped(server, machine_home, "web-1")
    stranger = enroll(server, root / "stranger", "stranger")
    read_back: list[str] = []

    async def scenario(s: Session):
        tools = await s.session.list_tools()
        by_name = {t.name: t for t in tools.tools}
        assert set(by_name) == TOOLS
        for destructive in ("disable_machine", "revoke_secret"):
            assert "confirm" in by_name[destructive].input_schema["required"]

        me = await s.ok("whoami")
        assert me["agentId"] == agent["machineId"]

        projects = await s.ok("list_projects")
        assert [p["name"] for p in projects["projects"]] == ["apps"]
        listed = await s.ok("list_secrets", project_id=project)
        assert [x["name"] for x in listed["secrets"]] == ["db"]

        created = await s.ok("create_secret", project_id=project, name="api-key",
                             value=written[1])
        assert created["version"] == 1
        generated = await s.ok("create_secret", project_id=project, name="token", generate=True)
        rotated = await s.ok("rotate_secret", secret_id=db)
        assert rotated["version"] == 2
        # Exactly one of value, fields and generate.
        await s.refused("create_secret", project_id=project, name="both", value="x", generate=True)

        machines = await s.ok("list_machines")
        ids = [m["id"] for m in machines["machines"]]
        assert target["machineId"] in ids and agent["machineId"] not in ids

        # Approval needs the machine's own fingerprint.
        wrong = "0" * 20 if target["fingerprint"] != "0" * 20 else "1" * 20
        await s.refused("approve_machine", machine_id=target["machineId"], fingerprint=wrong)
        ok = await s.ok("approve_machine", machine_id=target["machineId"],
                        fingerprint=target["fingerprint"])
        assert ok["status"] == "approved"
        # An agent never acts on an agent, itself included.
        await s.refused("approve_machine", machine_id=agent["machineId"],
                        fingerprint=agent["fingerprint"])
        await s.refused("approve_machine", machine_id=stranger["machineId"],
                        fingerprint=stranger["fingerprint"])
        await s.refused("disable_machine", machine_id=agent["machineId"], confirm=True)

        for secret in (db, created["id"], generated["id"]):
            granted = await s.ok("grant_secret", machine_id=target["machineId"], secret_id=secret)
            assert secret in granted["grants"]
        # The machine reads what the agent granted: the rotated and generated values too,
        # which nobody else has ever seen. They join the values searched for below.
        for secret in (db, created["id"], generated["id"]):
            got = machine_get(machine_home, secret)
            assert got.returncode == 0, got.stderr
            read_back.append(got.stdout.strip())
        assert read_back[1] == written[1]

        # Destructive tools need confirm: true, and say so.
        text = await s.refused("revoke_secret", machine_id=target["machineId"], secret_id=db)
        assert "confirm" in text
        text = await s.refused("disable_machine", machine_id=target["machineId"], confirm=False)
        assert "confirm" in text
        assert machine_get(machine_home, db).returncode == 0
        revoked = await s.ok("revoke_secret", machine_id=target["machineId"], secret_id=db,
                             confirm=True)
        assert db not in revoked["grants"]
        disabled = await s.ok("disable_machine", machine_id=target["machineId"], confirm=True)
        assert disabled["enabled"] is False
        assert machine_get(machine_home, created["id"]).returncode != 0

        # Out of scope: the audit log (no audit.read), creating projects (no projects.write).
        text = await s.refused("query_audit")
        assert "403" in text or "not allowed" in text.lower() or "forbidden" in text.lower()
        await s.refused("create_project", name="other")

        # Unknown tools are a protocol error, not a result.
        with pytest.raises(MCPError):
            await s.session.call_tool("read_secret", {"secret_id": db})

    results = asyncio.run(drive(server, agent_home, scenario))

    # The operator widens the scopes; the change reaches the agent's next request.
    server.op("ai-agent", "scopes", agent["machineId"], "--scope", "audit.read")

    async def audit(s: Session):
        records = await s.ok("query_audit", limit=200)
        mine = [r for r in records["records"] if r["actorKind"] == "ai_agent"]
        assert {r["actorId"] for r in mine} == {agent["machineId"]}
        assert "machine_approve" in {r["action"] for r in mine}
        assert "secret_rotate" in {r["action"] for r in mine}
        await s.refused("list_projects")

    results += asyncio.run(drive(server, agent_home, audit))

    # The agent's key never reads a value on the machine routes.
    assert machine_get(agent_home, db).returncode != 0

    values = written + read_back
    assert len(values) == 5 and all(len(v) >= 8 for v in values)
    for r in results:
        for v in values:
            assert v not in r, f"a secret value appeared in a tool result: {r[:200]}"
    assert len(results) > 20
