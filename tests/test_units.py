"""Pure parts, no network: tools.yml parsing and rules, the alias planner, the policy,
the settings, executors' substitution and signing, and the graph's outcome messages."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from adapters.base import Actor, Conversation, Decision, Outcome
from bot.approvals.models import Approval, RuleSnapshot, Status
from bot.approvals.policy import evaluate, expire
from bot.config import load_settings
from bot.errors import ConfigError
from graph.agent import outcome_message, tool_request
from graph.executors import sign_webhook, substitute
from graph.planner import AliasPlanner
from graph.tools import DEFAULT_PLATFORMS, Registry, ToolsFileError, load_registry, parse_duration

BUNDLED = load_registry()


# -- tools.yml ---------------------------------------------------------------------------------

def test_bundled_rules_match_on_arguments() -> None:
    deploy = BUNDLED.get("deploy")
    prod = deploy.rule_for({"service": "api", "environment": "prod"})
    assert prod and not prod.allow_self_approval and prod.expires_after == 1800 and prod.confirm
    staging = deploy.rule_for({"service": "api", "environment": "staging"})
    assert staging and staging.allow_self_approval
    assert BUNDLED.get("status").rule_for({}) is None


def test_no_rule_fails_safe(tmp_path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("tools:\n  - name: x\n    run: {command: [echo]}\n"
                    "  - name: y\n    parameters: {type: object, properties: {a: {type: integer}}}\n"
                    "    approval: [{when: {a: 1}, required: false}]\n    run: {command: [echo]}\n")
    reg = load_registry(path)
    assert reg.get("x").rule_for({}) is not None
    assert reg.get("y").rule_for({"a": 1}) is None
    assert reg.get("y").rule_for({"a": 2}) is not None  # no matching rule: gated


@pytest.mark.parametrize("text,where", [
    ("tools: [", "not valid YAML"),
    ("nope: 1", "'tools' list"),
    ("tools:\n  - name: x\n    run: {}\n", "exactly one"),
    ("tools:\n  - name: x\n    run: {command: [a], python: 'a:b'}\n", "exactly one"),
    ("tools:\n  - name: x\n    approval: [{approvers: [bob]}]\n    run: {command: [a]}\n", "platform-qualified"),
    ("tools:\n  - name: x\n    approval: [{expires_after: soon}]\n    run: {command: [a]}\n", "duration"),
    ("tools:\n  - name: x\n    parameters: {type: bogus}\n    run: {command: [a]}\n", "parameters"),
    ("tools:\n  - name: x\n    run: {command: [a]}\n  - name: x\n    run: {command: [a]}\n", "duplicate"),
    ("tools:\n  - name: x\n    surprise: 1\n    run: {command: [a]}\n", "surprise"),
])
def test_bad_tools_files_name_the_problem(tmp_path, text, where) -> None:
    path = tmp_path / "t.yml"
    path.write_text(text)
    with pytest.raises(ToolsFileError) as err:
        load_registry(path)
    assert str(path) in str(err.value) and where in str(err.value)


MATRIX_APPROVER = ("tools:\n  - name: x\n    approval: [{approvers: ['matrix:@x', 'slack:U1']}]\n"
                   "    run: {command: [a]}\n")


def test_approver_platforms_come_from_the_caller(tmp_path) -> None:
    """graph/ knows no platform list of its own: the bot passes its registry's names in."""
    path = tmp_path / "t.yml"
    path.write_text(MATRIX_APPROVER)
    with pytest.raises(ToolsFileError) as err:
        load_registry(path)  # the default: slack, teams, api, console
    assert "'matrix:@x'" in str(err.value) and "api, console, slack, teams" in str(err.value)
    registry = load_registry(path, platforms=DEFAULT_PLATFORMS | {"matrix"})
    assert registry.tools[0].approval[0].approvers == ["matrix:@x", "slack:U1"]
    with pytest.raises(ToolsFileError):  # a context replaces the default, it does not add to it
        load_registry(path, platforms=frozenset({"matrix"}))
    data = {"tools": [{"name": "x", "approval": [{"approvers": ["matrix:@x"]}], "run": {"command": ["a"]}}]}
    assert Registry.model_validate(data, context={"platforms": {"matrix"}}).tools[0].name == "x"
    for bad in ("matrix:", ":U1", "Slack:U1", "slack"):
        data["tools"][0]["approval"][0]["approvers"] = [bad]
        with pytest.raises(ValueError):
            Registry.model_validate(data, context={"platforms": {"matrix", "slack"}})


def test_durations() -> None:
    assert [parse_duration(v) for v in ("45s", "30m", "2h", "1d", 5)] == [45, 1800, 7200, 86400, 5]
    for bad in ("0s", "-1m", "soon", "1w"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_schema_validation_messages() -> None:
    deploy = BUNDLED.get("deploy")
    assert deploy.validate_args({"service": "api", "environment": "prod"}) == []
    errors = deploy.validate_args({"service": "db", "environment": "prod", "x": 1})
    assert any("service" in e for e in errors) and any("x" in e for e in errors)
    assert deploy.validate_args("nope") == ["arguments must be an object"]


# -- alias planner -----------------------------------------------------------------------------

async def test_planner_fans_clauses_out_in_one_message() -> None:
    planner = AliasPlanner(registry=BUNDLED)
    reply = await planner.ainvoke([HumanMessage("<@U0BOT> restart worker in staging and scale web in staging to 6")])
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("restart", {"service": "worker", "environment": "staging"}),
        ("scale", {"service": "web", "environment": "staging", "replicas": 6}),
    ]
    assert len({c["id"] for c in reply.tool_calls}) == 2
    lines = await planner.ainvoke([HumanMessage("deploy api v2.3 to PROD\nrollback web in staging")])
    assert [c["args"].get("environment") for c in lines.tool_calls] == ["prod", "staging"]


async def test_planner_lists_commands_when_it_does_not_understand() -> None:
    reply = await AliasPlanner(registry=BUNDLED).ainvoke([HumanMessage("make me a sandwich")])
    assert not reply.tool_calls and "deploy {service} {version} to {environment}" in reply.content


async def test_planner_summarizes_results() -> None:
    call = {"name": "deploy", "args": {}, "id": "call_1", "type": "tool_call"}
    msgs = [HumanMessage("x"), AIMessage("", tool_calls=[call]),
            ToolMessage("Rejected by dana: freeze.", tool_call_id="call_1", status="error")]
    reply = await AliasPlanner(registry=BUNDLED).ainvoke(msgs)
    assert reply.content == "deploy: not done. Rejected by dana: freeze."


def test_planner_binds_tools_to_itself() -> None:
    planner = AliasPlanner(registry=BUNDLED)
    assert planner.bind_tools([]) is planner


# -- graph payloads ----------------------------------------------------------------------------

def test_interrupt_payload_is_the_contract() -> None:
    call = {"id": "call_9", "name": "deploy", "args": {"service": "api"}}
    assert tool_request(call) == {"type": "tool-call", "tool_call_id": "call_9",
                                  "tool_call_name": "deploy", "tool_call_args": {"service": "api"}}


@pytest.mark.parametrize("resume", [None, 3, "x", [], {}, {"decision": 5}, {"by": "dana"},
                                    {"decision": "reject", "by": [None, 7]}, {"content": {"a": 1}}])
def test_outcome_message_never_raises(resume) -> None:
    msg = outcome_message({"id": "c", "name": "t"}, resume)
    assert msg.tool_call_id == "c" and msg.status == "error"


def test_rejection_names_who_and_why() -> None:
    msg = outcome_message({"id": "c", "name": "t"}, {"decision": "reject", "reason": "freeze",
                                                      "by": [{"platform": "slack", "id": "U1", "name": "dana"}]})
    assert msg.status == "error" and msg.content.startswith("Rejected by dana: freeze")


# -- policy ------------------------------------------------------------------------------------

def _approval(**rule) -> Approval:
    return Approval(id="apv_x", thread_id="t", interrupt_id="i", tool_call_id="c", tool="deploy",
                    args={}, requester=Actor("slack", "UREQ", "req"),
                    rule=RuleSnapshot.from_json({"approvers": ["*"], **rule}),
                    conversation=Conversation("slack", "t"), created_at=0, expires_at=100)


def test_policy_rules() -> None:
    dana, erin = Actor("slack", "UDANA", "dana"), Actor("slack", "UERIN", "erin")
    req = Actor("slack", "UREQ", "req")
    a = _approval(approvers=["slack:UDANA"])
    assert evaluate(a, erin, Decision.APPROVE, now=1).outcome is Outcome.NOT_ALLOWED
    assert evaluate(a, dana, Decision.APPROVE, now=1).status is Status.APPROVED
    assert evaluate(a, dana, Decision.APPROVE, now=100).outcome is Outcome.EXPIRED
    assert evaluate(a, req, Decision.APPROVE, now=1).outcome is Outcome.NOT_ALLOWED
    assert evaluate(a, req, Decision.REJECT, now=1).status is Status.REJECTED  # withdraw
    assert evaluate(_approval(allow_self_approval=True), req, Decision.APPROVE, now=1).status is Status.APPROVED
    grouped = _approval(approvers=["slack:group:S1"])
    assert evaluate(grouped, erin, Decision.APPROVE, now=1).outcome is Outcome.NOT_ALLOWED
    assert evaluate(grouped, erin, Decision.APPROVE, now=1, groups=frozenset({"S1"})).outcome is Outcome.ACCEPTED
    assert evaluate(_approval(approvers=["teams:UDANA"]), dana, Decision.APPROVE, now=1).outcome is Outcome.NOT_ALLOWED


def test_quorum_counts_distinct_approvers() -> None:
    dana, erin = Actor("slack", "UDANA", "dana"), Actor("slack", "UERIN", "erin")
    a = _approval(quorum=2)
    first = evaluate(a, dana, Decision.APPROVE, now=1)
    assert first.status is Status.PENDING and "1 of 2" in first.message
    a = a.with_(decisions=first.decisions)
    assert evaluate(a, dana, Decision.APPROVE, now=2).outcome is Outcome.NOT_ALLOWED
    assert evaluate(a, erin, Decision.APPROVE, now=2).status is Status.APPROVED
    decided = a.with_(status=Status.EXPIRED)
    assert evaluate(decided, erin, Decision.APPROVE, now=2).outcome is Outcome.ALREADY_DECIDED
    assert expire(a, now=200).status is Status.EXPIRED


# -- settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("env,variable", [
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"PORT": "http"}, "PORT"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN"),
    ({"TEAMS_APP_ID": "id"}, "TEAMS_APP_PASSWORD"),
    ({"AZURE_OPENAI_ENDPOINT": "https://x"}, "AZURE_OPENAI_API_KEY"),
    ({"OPENAI_BASE_URL": "http://x"}, "CLEARANCE_MODEL"),
])
def test_bad_settings_name_the_variable(monkeypatch, env, variable) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(variable + ":")
    assert "xoxb" not in str(err.value)


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///./clearance.db" and s.port == 3000 and s.host == "0.0.0.0"
    assert not s.slack_enabled and not s.teams_enabled


# -- executors ---------------------------------------------------------------------------------

def test_substitution_is_per_element_and_never_splits() -> None:
    argv = substitute(["deploy.sh", "{service}", "--v={version}"],
                      {"service": "api; rm -rf /", "version": "v1 2"})
    assert argv == ["deploy.sh", "api; rm -rf /", "--v=v1 2"]


def test_webhook_signature() -> None:
    sig = sign_webhook("s3cret", "1700000000", b'{"a":1}')
    want = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sig == "sha256=" + want
