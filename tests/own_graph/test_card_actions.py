"""Pure render and parse, no network: each platform's card offers exactly the decisions the
agent allows (LangChain's `allowed_decisions`), a Reply where it takes an answer in the
tool's place, and the decided card says who answered what. The bundled agent's cards keep
Approve, Reject and (with editable arguments) Edit."""

from __future__ import annotations

import json

import pytest

from adapters.base import (
    DEFAULT_ACTIONS,
    Actor,
    ApprovalCard,
    CardStatus,
    Conversation,
    Decision,
    Outcome,
    Place,
    Viewer,
    ViewerRole,
)
from adapters.console import parse as console_parse
from adapters.console import render as console_render
from adapters.slack import render as slack_render
from adapters.slack.edit import edit_metadata
from adapters.slack.parse import RESPOND_ACTION, SlackClick, conversation, parse_action
from adapters.slack.reply import parse_reply_submission, reply_errors, reply_modal
from adapters.teams import parse as teams_parse
from adapters.teams import render as teams_render
from bot.approvals.models import Approval, Asked, RuleSnapshot
from bot.approvals.policy import MAX_REPLY, evaluate, may_reply
from graph.contract import HITL_DECISIONS, Dialect
from tests.slack.blockkit import check_message, check_view
from tests.slack.fake_slack import TEAM
from tests.slack.payloads import CHANNEL, block_actions, view_submission
from tests.teams.fakes import card_action

A, R, E, S = Decision.APPROVE, Decision.REJECT, Decision.EDIT, Decision.RESPOND
ALICE = Actor("slack", "U0ALICE01", "alice", TEAM)
DANA = Actor("slack", "U0DANA001", "dana", TEAM)
ID = "apv_" + "b" * 22

# actions the agent allows → the buttons each platform shows (editable arguments: "version")
SHAPES = [
    (DEFAULT_ACTIONS, ["Approve", "Reject", "Edit"]),  # the bundled agent: as before
    ((A, R, E, S), ["Approve", "Reject", "Edit", "Reply"]),  # the middleware's default, langchain 1.x
    ((A, R), ["Approve", "Reject"]),  # allowed_decisions: [approve, reject]
    ((A, E), ["Approve", "Edit"]),  # no rejection
    ((R, S), ["Reject", "Reply"]),  # no approval
    ((S,), ["Reply"]),
    ((), []),
]


def card(actions: tuple[Decision, ...] = DEFAULT_ACTIONS, **changes) -> ApprovalCard:  # type: ignore[no-untyped-def]
    base = dict(approval_id=ID, tool="deploy", args={"service": "api", "version": "v2.3"}, requester=ALICE,
                rule="1 approval", editable=("version",), actions=actions, revision=2)
    base.update(changes)
    return ApprovalCard(**base)  # type: ignore[arg-type]


# -- Slack -------------------------------------------------------------------------------------

def _slack_buttons(message: dict) -> list[str]:
    return [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(("actions", "buttons"), SHAPES)
def test_slack_buttons_follow_the_allowed_decisions(actions: tuple[Decision, ...], buttons: list[str]) -> None:
    msg = slack_render.render_card(card(actions))
    assert _slack_buttons(msg) == buttons
    check_message(msg)  # no empty actions block when nothing is offered
    assert _slack_buttons({"blocks": slack_render.render_home([card(actions)])["blocks"]}) == buttons
    every = [e for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert all(e["value"] == ID for e in every)  # every button carries the approval id only


def test_slack_no_edit_button_without_an_editable_argument() -> None:
    assert _slack_buttons(slack_render.render_card(card((A, R, E, S), editable=()))) == ["Approve", "Reject", "Reply"]


def test_slack_reply_click_modal_and_submission() -> None:
    payload = block_actions(DANA.id, RESPOND_ACTION, ID, card_ts="1700000000.000100", thread_ts="1700000000.000001")
    click = parse_action(payload)
    assert click is not None and click.decision is Decision.RESPOND and click.approval_id == ID
    view = reply_modal(card((A, R, E, S)), edit_metadata(click, 2))
    check_view(view)
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    assert not field.get("optional") and field["element"]["multiline"] and field["element"]["max_length"] == MAX_REPLY
    submitted = view_submission(DANA.id, view, None)
    submitted["view"]["state"] = {"values": {"reply": {"reply": {"type": "plain_text_input",
                                                                 "value": "  use blue-green  "}}}}
    reply = parse_reply_submission(submitted)
    assert reply is not None and reply.revision == 2
    assert reply.click.decision is Decision.RESPOND and reply.click.reason == "  use blue-green  "
    assert reply.click.place == Place("slack", TEAM, CHANNEL, "1700000000.000100")  # where it was opened
    assert reply.click.actor.id == DANA.id


@pytest.mark.parametrize("meta", [
    {"r": None}, {"r": True}, {"r": "2"}, {"p": ["T", "C"]}, {"a": ""},
])
def test_slack_reply_submission_without_a_bound_origin_is_ignored(meta: dict) -> None:
    click = SlackClick(ID, Decision.RESPOND, DANA, conversation(TEAM, CHANNEL, "1700000000.000001"),
                       Place("slack", TEAM, CHANNEL, "1700000000.000100"))
    good = json.loads(edit_metadata(click, 2))
    view = reply_modal(card((S,)), json.dumps({**good, **meta}))
    assert parse_reply_submission(view_submission(DANA.id, view, None)) is None
    edit_view = {**view, "callback_id": "clearance_edit_args"}  # another modal's submission is not a reply
    assert parse_reply_submission(view_submission(DANA.id, edit_view, None)) is None


def test_slack_answered_card_says_who_answered_what_in_short() -> None:
    answered = card((S,), status=CardStatus.ANSWERED, decided_by=(DANA,), result="use the <!channel> path\n" * 30)
    msg = slack_render.render_card(answered)
    check_message(msg)
    sections = [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section" and "text" in b]
    [line] = [t for t in sections if "Answered" in t]
    assert line.startswith(':speech_balloon: Answered by <@U0DANA001>: `"use the &lt;!channel&gt; path\\nuse')
    assert len(line) < 400 and "…" in line  # one short line; the agent has the whole answer
    assert "<!channel>" not in json.dumps(msg)
    assert _slack_buttons(msg) == []
    assert reply_errors("x" * 400)["reply"].endswith("…") and len(reply_errors("x" * 400)["reply"]) == 150


# -- Teams -------------------------------------------------------------------------------------

def _teams_buttons(content: dict) -> list[str]:
    return [a["title"] for a in content.get("actions", [])]


@pytest.mark.parametrize(("actions", "buttons"), SHAPES)
def test_teams_actions_follow_the_allowed_decisions(actions: tuple[Decision, ...], buttons: list[str]) -> None:
    assert _teams_buttons(teams_render.render_card(card(actions))) == buttons
    listed = teams_render.render_pending([card(actions)])["body"][1]["items"][2]["actions"]
    assert [a["title"] for a in listed] == [b for b in buttons if b in ("Approve", "Reject")]


def test_teams_reply_is_a_showcard_with_one_input_and_a_respond_verb() -> None:
    content = teams_render.render_card(card((A, R, E, S)))
    reply = content["actions"][-1]
    assert reply["type"] == "Action.ShowCard" and reply["title"] == "Reply"
    [field] = reply["card"]["body"]
    assert (field["type"], field["id"], field["isRequired"], field["maxLength"]) == ("Input.Text", "reply", True,
                                                                                     MAX_REPLY)
    [send] = reply["card"]["actions"]
    assert send["type"] == "Action.Execute" and send["verb"] == "respond"
    assert send["data"] == {"approval_id": ID, "revision": 2}


def test_teams_respond_invoke_carries_the_reply_whole_and_the_revision() -> None:
    invoke = card_action("https://smba.example/amer/", ID, "respond", reason="a reason box")
    invoke["value"]["action"]["data"].update({"reply": "  " + "y" * 3500, "revision": 2})
    click = teams_parse.parse_click(invoke)
    assert click.decision is Decision.RESPOND and click.revision == 2
    assert click.reason == "  " + "y" * 3500  # never cut: the bot refuses it, saying why
    for revision in (True, "2", 0, None):
        invoke["value"]["action"]["data"]["revision"] = revision
        assert teams_parse.parse_click(invoke).revision is None


def test_teams_answered_card_says_who_answered_what_in_short() -> None:
    answered = card((S,), status=CardStatus.ANSWERED, decided_by=(DANA,), result="**use** blue-green " * 30)
    content = teams_render.render_card(answered)
    texts = [b.get("text", "") for b in content["body"]]
    assert texts[0] == "deploy: answered"
    [line] = [t for t in texts if t.startswith("Answered by dana: ")]
    assert line.startswith("Answered by dana: \\*\\*use\\*\\* blue-green") and line.endswith("…")
    assert len(line) < 300 and "actions" not in content
    assert teams_render.notification_summary(answered).startswith('deploy(service="api", version="v2.3"): Answered by')


# -- console -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("actions", "buttons"), SHAPES)
def test_console_commands_follow_the_allowed_decisions(actions: tuple[Decision, ...], buttons: list[str]) -> None:
    text = console_render.render_card(card(actions, number=3))
    words = {"Approve": "approve 3", "Reject": "reject 3 <reason>", "Edit": "edit 3 version=…",
             "Reply": "reply 3 <answer>"}
    for name, hint in words.items():
        assert (hint in text) is (name in buttons), (name, text)
    assert ("→" in text) is bool(buttons)


def test_console_reply_command_and_outcome() -> None:
    assert console_parse.parse_line("reply 3 use the blue-green path") == console_parse.Decide(
        "3", Decision.RESPOND, "use the blue-green path")
    assert console_parse.parse_line("Reply #apv_x  two\nlines ") == console_parse.Decide(
        "apv_x", Decision.RESPOND, "two\nlines")
    assert console_parse.parse_line("reply 3") == console_parse.Decide("3", Decision.RESPOND, "")
    assert console_parse.parse_line("reply to the thread") == console_parse.Say("reply to the thread")
    assert console_parse.parse_line("reject 3 no") == console_parse.Decide("3", Decision.REJECT, "no")
    answered = card((S,), number=3, status=CardStatus.ANSWERED, decided_by=(DANA,), result="\x1b[2Jok " * 100)
    line = console_render.render_outcome(answered)
    assert line.startswith("[3] deploy: answered by dana: \\u001b[2Jok") and "\n" not in line
    assert "\x1b" not in line and len(line) < 400


# -- who may answer, and with what ----------------------------------------------------------------

def _approval(**rule) -> Approval:  # type: ignore[no-untyped-def]
    return Approval(id=ID, thread_id="t", interrupt_id="i", tool_call_id="c", tool="deploy", args={},
                    requester=ALICE, rule=RuleSnapshot.from_json({"approvers": ["*"], **rule}),
                    conversation=Conversation("slack", "t"), created_at=0, expires_at=100,
                    asked=Asked(dialect=Dialect.TOOL_APPROVAL, allowed=HITL_DECISIONS, runs_in_graph=True))


def test_a_reply_is_authorised_as_an_approval_and_refused_when_empty_or_too_long() -> None:
    a = _approval()
    assert evaluate(a, DANA, S, now=1, reason="use blue-green").result == "use blue-green"
    assert evaluate(a, DANA, S, now=1, reason="x" * MAX_REPLY).result == "x" * MAX_REPLY
    for text in ("", "   \n "):
        refused = evaluate(a, DANA, S, now=1, reason=text)
        assert refused.outcome is Outcome.INVALID and "needs some text" in refused.message
    long = evaluate(a, DANA, S, now=1, reason="x" * (MAX_REPLY + 1))
    assert long.outcome is Outcome.INVALID and f"at most {MAX_REPLY} characters" in long.message
    assert long.status is None and long.result is None
    assert evaluate(a, ALICE, S, now=1, reason="ok").outcome is Outcome.NOT_ALLOWED  # four-eyes
    assert evaluate(_approval(approvers=["slack:U0ERIN001"]), DANA, S, now=1, reason="ok").outcome \
        is Outcome.NOT_ALLOWED  # not a listed approver
    assert may_reply(a, DANA, now=1).outcome is Outcome.ACCEPTED
    assert may_reply(a, ALICE, now=1).outcome is Outcome.NOT_ALLOWED
    assert may_reply(a, DANA, now=100).outcome is Outcome.EXPIRED


def test_a_reply_text_is_judged_before_a_fresh_login_is_asked_for() -> None:
    stepped = _approval(step_up={"max_age": 300})
    assert evaluate(stepped, DANA, S, now=1, reason="").outcome is Outcome.INVALID
    assert evaluate(stepped, DANA, S, now=1, reason="ok").outcome is Outcome.STEP_UP
    assert may_reply(stepped, DANA, now=1).outcome is Outcome.STEP_UP  # the form opens; the login comes after


def test_teams_own_view_keeps_reply_only_for_those_whose_answer_counts() -> None:
    shown = {role: _teams_buttons(teams_render.render_card(card((A, R, E, S), viewer=Viewer(role)),
                                                           for_approver=True)) for role in ViewerRole}
    assert shown[ViewerRole.DECIDER] == ["Approve", "Reject", "Edit", "Reply"]
    assert shown[ViewerRole.REQUESTER] == ["Withdraw"]  # four-eyes: no answer to one's own call
    assert "Reply" not in shown[ViewerRole.EDITOR] and shown[ViewerRole.OBSERVER] == []


def test_a_multi_line_description_keeps_its_line_breaks_on_every_platform() -> None:
    """The middleware's default description is several lines: shown as lines, never as
    `\\u000a`, and a hidden character in it is still written out."""
    card = ApprovalCard(approval_id="a" * 32, tool="deploy", args={"service": "api"},
                        requester=Actor("slack", "U1", "alice"), rule="r",
                        description="Tool execution requires approval\n\nTool: deploy\nArgs: {'service': 'api'}\u202e")
    slack = json.dumps(slack_render.render_card(card))
    teams = json.dumps(teams_render.render_card(card))
    console = console_render.render_card(card)
    for shown in (slack, teams, console):
        assert "u000a" not in shown and "Tool execution requires approval" in shown
        assert "\\u202e" in shown and "\u202e" not in shown
    assert "approval\\n\\nTool: deploy" in teams and "approval\\nTool: deploy" in slack
