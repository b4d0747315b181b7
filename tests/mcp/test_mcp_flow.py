"""MCP tools through the whole bot: listed with the server's schemas, gated by the same rules,
run once with exactly the approved arguments and the approval id as `_meta.idempotency_key`."""

from __future__ import annotations

import asyncio
import os
import signal

from adapters.base import Actor, Decision, DecisionClick
from bot.approvals.models import Status
from tests.conftest import console_message, runtime_for
from tests.mcp.conftest import mcp_tools, records

BOB = Actor("console", "bob", "bob")


async def _wait(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_mcp_tools_are_offered_with_the_servers_schemas(database_url, tmp_path, record) -> None:
    async with runtime_for(database_url, mcp_tools(record), tmp_path) as rt:
        names = rt.registry.names
        assert {"repo_git_status", "repo_deploy", "repo_delete_branch"} <= set(names)
        schema = rt.registry.get("repo_deploy").openai_schema()["function"]  # type: ignore[union-attr]
        assert schema["name"] == "repo_deploy" and schema["description"] == "Deploy a service version."
        assert set(schema["parameters"]["properties"]) == {"service", "version"}
        assert sorted(schema["parameters"]["required"]) == ["service", "version"]
        # Arguments are checked against the server's schema before any card.
        assert rt.registry.get("repo_deploy").validate_args({"service": "api"})  # type: ignore[union-attr]


async def test_an_ungated_mcp_tool_runs_at_once(database_url, tmp_path, record) -> None:
    async with runtime_for(database_url, mcp_tools(record), tmp_path) as rt:
        await rt.service.on_message(console_message("status"))
        await rt.service.drain()
        assert await rt.ledger.approvals(status=[Status.PENDING]) == []
        [call] = records(record)
        assert call["tool"] == "git_status"
        assert any("nothing to commit" in text for text in rt.recorder.texts)


async def test_two_gated_calls_approve_one_reject_the_other(database_url, tmp_path, record) -> None:
    async with runtime_for(database_url, mcp_tools(record), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api v1 and delete branch x"))
        pending = {a.tool: a for a in await rt.ledger.approvals(status=[Status.PENDING])}
        assert set(pending) == {"repo_deploy", "repo_delete_branch"} and len(rt.recorder.cards) == 2
        assert records(record) == []  # nothing runs before a decision

        deploy = pending["repo_deploy"]
        assert (await rt.service.on_decision(DecisionClick(deploy.id, Decision.APPROVE, BOB))).outcome.value
        await rt.service.drain()
        [call] = records(record)
        assert call["tool"] == "deploy" and call["arguments"] == deploy.args == {"service": "api", "version": "v1"}
        assert call["meta"]["idempotency_key"] == deploy.id
        done = await rt.ledger.get(deploy.id)
        assert done is not None and done.status is Status.DONE and done.result == "deployed api v1"

        branch = pending["repo_delete_branch"]
        await rt.service.on_decision(DecisionClick(branch.id, Decision.REJECT, BOB, "not today"))
        await rt.service.drain()
        assert len(records(record)) == 1
        assert (await rt.ledger.get(branch.id)).status is Status.REJECTED  # type: ignore[union-attr]
        told = "\n".join(rt.recorder.texts)
        assert "deployed api v1" in told and "not today" in told


async def test_an_error_result_is_a_failed_execution(database_url, tmp_path, record) -> None:
    async with runtime_for(database_url, mcp_tools(record), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy api broken"))
        [approval] = await rt.ledger.approvals(status=[Status.PENDING])
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, BOB))
        await rt.service.drain()
        failed = await rt.ledger.get(approval.id)
        assert failed is not None and failed.status is Status.FAILED
        assert "version broken does not exist" in (failed.result or "")


async def test_a_killed_server_is_restarted_and_the_approved_call_runs_once(database_url, tmp_path, record) -> None:
    async with runtime_for(database_url, mcp_tools(record), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy web v2"))
        [approval] = await rt.ledger.approvals(status=[Status.PENDING])
        first = rt.mcp.pid("repo")
        assert first is not None and [r["pid"] for r in records(record, "start")] == [first]
        os.kill(first, signal.SIGKILL)
        assert await _wait(lambda: rt.mcp.pid("repo") not in (None, first) and rt.mcp.failures == [])
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, BOB))
        await rt.service.drain()
        [call] = records(record)
        assert call["pid"] == rt.mcp.pid("repo") != first
        assert call["arguments"] == {"service": "web", "version": "v2"}
        assert call["meta"]["idempotency_key"] == approval.id
        assert (await rt.ledger.get(approval.id)).status is Status.DONE  # type: ignore[union-attr]


async def test_a_call_that_finds_the_server_dead_fails_clearly_and_the_next_works(tmp_path, record) -> None:
    from graph.executors import execute

    async with runtime_for(f"sqlite:///{tmp_path}/c.db", mcp_tools(record), tmp_path) as rt:
        spec = rt.registry.get("repo_deploy")
        pid = rt.mcp.pid("repo")
        os.kill(pid, signal.SIGSTOP)  # hung, then gone: the call is sent to a server that dies
        call = asyncio.ensure_future(execute(spec, {"service": "api", "version": "v3"}, idempotency_key="apv_a",
                                             approved_by=[]))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        result = await call
        assert not result.ok and "stopped during the call" in result.content and "may or may not" in result.content
        assert await _wait(lambda: rt.mcp.pid("repo") not in (None, pid))
        again = await execute(spec, {"service": "api", "version": "v3"}, idempotency_key="apv_b", approved_by=[])
        assert again.ok and again.content == "deployed api v3"
        assert [r["meta"]["idempotency_key"] for r in records(record)] == ["apv_b"]


async def test_the_server_sees_only_a_minimal_environment(tmp_path, record, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-should-not-leak")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-should-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("CLEARANCE_API_TOKEN", "api-should-not-leak")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", mcp_tools(record), tmp_path) as rt:
        [start] = records(record, "start")
        allowed = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "MCP_TEST_RECORD", "MCP_TEST_TOKEN"}
        assert set(start["env"]) <= allowed and {"PATH", "MCP_TEST_RECORD", "MCP_TEST_TOKEN"} <= set(start["env"])
        assert start["token"] == "mcp-secret-value-123"  # `${VAR}` copies one variable, explicitly
        assert "mcp-secret-value-123" in rt.registry.secret_values()  # and it is redacted like any secret


async def test_streamable_http_server_approve_flow(database_url, tmp_path, record, http_server) -> None:
    async with runtime_for(database_url, mcp_tools(record, url=http_server), tmp_path) as rt:
        await rt.service.on_message(console_message("deploy worker v9"))
        [approval] = await rt.ledger.approvals(status=[Status.PENDING])
        assert approval.tool == "repo_deploy" and records(record) == []
        await rt.service.on_decision(DecisionClick(approval.id, Decision.APPROVE, BOB))
        await rt.service.drain()
        [call] = records(record)
        assert call["arguments"] == {"service": "worker", "version": "v9"}
        assert call["meta"]["idempotency_key"] == approval.id
        assert (await rt.ledger.get(approval.id)).result == "deployed worker v9"  # type: ignore[union-attr]
