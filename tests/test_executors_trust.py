"""The executor side of the trust boundary: what a command can see, what a call may contain
before anyone is asked to approve it, and what a tools file may say. Real subprocesses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from graph.arguments import MAX_ARGUMENTS, MAX_TOTAL_CHARS, MAX_VALUE_CHARS
from graph.executors import execute
from graph.tools import Registry, ToolsFileError, ToolSpec, load_registry
from tests.conftest import console_message, runtime_for

BOT_SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-bot-token-never-seen",
    "SLACK_SIGNING_SECRET": "signing-secret-never-seen",
    "CLEARANCE_API_TOKEN": "api-token-never-seen",
    "DATABASE_URL": "postgresql://u:db-password-never-seen@127.0.0.1/x",
    "OPENAI_API_KEY": "sk-openai-never-seen",
}
PRINT_ARGV = [sys.executable, "-c", "import json,sys;print(json.dumps(sys.argv[1:]))"]


def load(tmp_path: Path, text: str) -> Registry:
    path = tmp_path / "tools.yml"
    path.write_text(text)
    return load_registry(path)


def tool(tmp_path: Path, body: str, name: str = "t") -> ToolSpec:
    spec = load(tmp_path, f"tools:\n  - name: {name}\n" + body).get(name)
    assert spec is not None
    return spec


def argv_tool(tmp_path: Path, template: list[str], props: str = "{note: {type: string}}", extra: str = "") -> ToolSpec:
    return tool(tmp_path, f"    parameters: {{type: object, properties: {props}}}\n{extra}"
                          f"    run: {{command: {json.dumps(PRINT_ARGV + template)}}}\n")


async def run(spec: ToolSpec, args: dict[str, Any], approved_by: list[str] | None = None) -> Any:
    result = await execute(spec, args, idempotency_key="apv_env1", approved_by=approved_by or [])
    assert result.ok, result.content
    return result.content


# -- the environment of a command --------------------------------------------------------------

async def test_a_command_sees_only_the_minimal_environment(tmp_path, monkeypatch) -> None:
    for name, value in BOT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-token-copied")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("LC_ALL", raising=False)
    spec = tool(tmp_path, """    env: {KUBECONFIG: /etc/kube/prod, TOKEN: "${DEPLOY_TOKEN}"}
    run: {command: ["/usr/bin/env"]}
""")
    out = await run(spec, {}, approved_by=["console:dana", "slack:U0ERIN"])
    seen = dict(line.split("=", 1) for line in out.splitlines())
    assert not set(BOT_SECRETS) & set(seen)
    assert not any(secret in out for secret in BOT_SECRETS.values())
    assert seen == {
        "PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
        "LANG": "C.UTF-8", "TZ": "UTC",  # LC_ALL is unset in the bot, so it is absent here
        "KUBECONFIG": "/etc/kube/prod", "TOKEN": "deploy-token-copied",
        "CLEARANCE_IDEMPOTENCY_KEY": "apv_env1", "CLEARANCE_APPROVED_BY": "console:dana,slack:U0ERIN",
    }


async def test_env_is_copied_when_the_file_is_loaded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "at-load")
    spec = tool(tmp_path, '    env: {TOKEN: "${DEPLOY_TOKEN}"}\n    run: {command: ["/usr/bin/env"]}\n')
    monkeypatch.setenv("DEPLOY_TOKEN", "changed-later")
    assert "TOKEN=at-load" in (await run(spec, {})).splitlines()


@pytest.mark.parametrize("env,where", [
    ('{TOKEN: "${NOT_SET_ANYWHERE}"}', "${NOT_SET_ANYWHERE} is not set"),
    ('{TOKEN: "Bearer ${DEPLOY_TOKEN}"}', "whole value"),
    ('{CLEARANCE_IDEMPOTENCY_KEY: x}', "CLEARANCE_IDEMPOTENCY_KEY"),
    ('{CLEARANCE_APPROVED_BY: x}', "CLEARANCE_APPROVED_BY"),
    ('{"BAD NAME": x}', "BAD NAME"),
])
def test_bad_env_is_a_load_error_naming_tool_and_variable(tmp_path, monkeypatch, env, where) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "x" * 8)
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ToolsFileError) as err:
        tool(tmp_path, f"    env: {env}\n    run: {{command: [/usr/bin/env]}}\n", name="deployer")
    assert "tool deployer" in str(err.value) and where in str(err.value)


def test_env_on_a_tool_that_runs_no_command_is_refused(tmp_path) -> None:
    with pytest.raises(ToolsFileError, match="command tools only"):
        tool(tmp_path, "    env: {A: b}\n    run: {python: 'graph.demo:status'}\n")


def test_secret_values_are_copied_env_and_webhook_secrets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "copied-deploy-token")
    monkeypatch.setenv("HOOK_SECRET", "webhook-signing-secret")
    monkeypatch.delenv("UNSET_HOOK_SECRET", raising=False)
    reg = load(tmp_path, """tools:
  - name: a
    env: {TOKEN: "${DEPLOY_TOKEN}", KUBECONFIG: /etc/kube/prod}
    run: {command: [/usr/bin/env]}
  - name: b
    run: {webhook: {url: "http://127.0.0.1:9/h", secret_env: HOOK_SECRET}}
  - name: c
    run: {webhook: {url: "http://127.0.0.1:9/h", secret_env: UNSET_HOOK_SECRET}}
""")
    assert reg.secret_values() == frozenset({"copied-deploy-token", "webhook-signing-secret"})


# -- what a tools file may say ----------------------------------------------------------------

@pytest.mark.parametrize("body,where", [
    ("    parameters: {type: object, properties: {version: {type: string}}}\n"
     "    run: {command: [deploy.sh, '{version}', '--env={environment}']}\n", "{environment}"),
    ("    run: {command: [deploy.sh, '{version}']}\n", "{version}"),
    ("    parameters: {type: object, properties: {version: {type: string}}}\n"
     "    approval: [{when: {environment: prod}}]\n    run: {command: [deploy.sh]}\n", "'environment'"),
])
def test_names_that_point_nowhere_fail_at_load(tmp_path, body, where) -> None:
    with pytest.raises(ToolsFileError) as err:
        tool(tmp_path, body, name="deploy")
    assert "tool deploy" in str(err.value) and where in str(err.value)


def test_the_bundled_example_still_loads() -> None:
    assert load_registry().names == ["deploy", "rollback", "restart", "scale", "status"]


# -- refused before the card ------------------------------------------------------------------

async def test_substitution_is_one_pass(tmp_path) -> None:
    spec = argv_tool(tmp_path, ["chain", "{note}", "{other}", "x{note}y"],
                     props="{note: {type: string}, other: {type: string}}")
    args = {"note": "{other}", "other": "--delete-everything"}
    assert spec.refusal(args) is not None  # `other` starts with '-'
    args = {"note": "{other} {note}", "other": "note"}
    assert spec.refusal(args) is None
    assert json.loads(await run(spec, args)) == ["chain", "{other} {note}", "note", "x{other} {note}y"]


async def test_missing_argument_is_refused_and_a_default_is_used(tmp_path) -> None:
    spec = argv_tool(tmp_path, ["deploy", "{version}", "{environment}"],
                     props="{version: {type: string}, environment: {type: string, default: staging}}")
    assert spec.refusal({}) == "Refused before approval, nothing was executed: missing argument version"
    assert spec.refusal({"version": "v2"}) is None
    assert json.loads(await run(spec, {"version": "v2"})) == ["deploy", "v2", "staging"]
    # Even if a caller skipped the check, the executor never runs a half-filled argv.
    result = await execute(spec, {}, idempotency_key="k", approved_by=[])
    assert not result.ok and "missing argument version" in result.content


async def test_leading_dash_needs_allow_option_values(tmp_path) -> None:
    strict = argv_tool(tmp_path, ["rm", "{note}"])
    refused = strict.refusal({"note": "-rf"})
    assert refused and "note starts with '-'" in refused
    assert strict.refusal({"note": "a-b"}) is None
    assert "starts with '-'" in (strict.refusal({"note": -5}) or "")  # JSON text of a number
    loose = argv_tool(tmp_path, ["grep", "{note}"], extra="    allow_option_values: true\n")
    assert loose.refusal({"note": "-v"}) is None
    assert json.loads(await run(loose, {"note": "-v"})) == ["grep", "-v"]


def test_unused_values_are_not_held_to_the_argv_rules(tmp_path) -> None:
    spec = argv_tool(tmp_path, ["echo"], props="{reason: {type: string}}")
    assert spec.refusal({"reason": "-because"}) is None


@pytest.mark.parametrize("value,why", [
    ("a\x00b", "NUL"),
    ("a\ud800b", "U+D800"),
])
def test_characters_an_argv_cannot_carry_are_refused(tmp_path, value, why) -> None:
    refused = argv_tool(tmp_path, ["echo", "{note}"]).refusal({"note": value})
    assert refused and refused.startswith("Refused before approval, nothing was executed: ") and why in refused


def test_nul_and_display_checks_apply_to_every_kind(tmp_path) -> None:
    reg = load(tmp_path, """tools:
  - name: hook
    run: {webhook: {url: "http://127.0.0.1:9/h"}}
  - name: py
    run: {python: "graph.demo:status"}
  - name: ext
    run: {external: true}
""")
    for name in ("hook", "py", "ext"):
        spec = reg.get(name)
        assert spec is not None
        assert "NUL" in (spec.refusal({"nested": {"k": ["ok", "no\x00"]}}) or "")
        assert spec.refusal({"note": "-rf", "surrogate": "\ud800"}) is None  # argv rules: commands only
        assert "too long" in (spec.refusal({"n": "x" * MAX_VALUE_CHARS}) or "")


def test_card_display_limits(tmp_path) -> None:
    spec = tool(tmp_path, "    run: {python: 'graph.demo:status'}\n")
    fits = {f"a{i}": "x" for i in range(MAX_ARGUMENTS)}
    assert spec.refusal(fits) is None
    assert "too many arguments" in (spec.refusal({**fits, "one_more": 1}) or "")
    # One value at the limit as JSON (two quote characters included), then one past it.
    assert spec.refusal({"v": "é" * (MAX_VALUE_CHARS - 2)}) is None
    assert "too long" in (spec.refusal({"v": "é" * (MAX_VALUE_CHARS - 1)}) or "")
    four = {f"k{i}": "y" * (MAX_VALUE_CHARS - 2) for i in range(4)}  # 4 × (2 + 1000) > total
    assert f"at most {MAX_TOTAL_CHARS}" in (spec.refusal(four) or "")


# -- the agent refuses before the card ---------------------------------------------------------

REFUSING_TOOLS = """
tools:
  - name: erase
    description: Erase a note
    parameters: {type: object, properties: {note: {type: string}}, required: [note]}
    aliases: ["erase {note}"]
    approval: [{approvers: ["console:dana"]}]
    run: {command: ["sh", "-c", "echo ran >> RUNS; echo {note}"]}
  - name: peek
    description: Look at a note (no approval)
    parameters: {type: object, properties: {note: {type: string}}, required: [note]}
    aliases: ["peek {note}"]
    approval: [{required: false}]
    run: {command: ["sh", "-c", "echo ran >> RUNS; echo {note}"]}
"""


@pytest.mark.parametrize("text", ["erase --everything", "peek -rf"])
async def test_a_refused_call_posts_no_card_and_tells_the_model(tmp_path, text) -> None:
    tools = REFUSING_TOOLS.replace("RUNS", str(tmp_path / "runs.txt"))
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", tools, tmp_path) as rt:
        await rt.service.on_message(console_message(text))
        await rt.service.drain()
        state = await rt.graph.aget_state({"configurable": {"thread_id": "console:t"}})
        [msg] = [m for m in state.values["messages"] if isinstance(m, ToolMessage)]
        assert rt.recorder.cards == [] and await rt.ledger.approvals() == []
        assert msg.status == "error"
        assert msg.content.startswith("Refused before approval, nothing was executed: argument note starts with '-'")
    assert not (tmp_path / "runs.txt").exists()
