"""What the bot says in a thread besides the model's answers: one-sentence failures and the
outcome reports of detached cards. Pure functions of their inputs."""

from __future__ import annotations

import json

from bot.approvals.models import Approval, Status

MAX_RESULT = 1500
# What a person hears when the database cannot be reached: their click or message was not
# recorded, and the same action will work once it is back.
UNAVAILABLE = "Sorry, I cannot reach my database right now, so that was not recorded; please try again in a moment."
# What a thread hears when the agent runs on an Agent Server that does not answer: the message
# is kept and runs once the server is back.
SERVER_UNREACHABLE = "The agent server is unreachable; I will retry your message when it is back."


def outcome_line(approval: Approval) -> str:
    """How a detached card's outcome comes back to its thread, e.g. `[apv_…]
    deploy(service=web, environment=prod) approved by dana — result: …`."""
    args = ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in approval.args.items())
    head = f"[{approval.id}] {approval.tool}({args})"
    who = ", ".join(a.display for a in approval.deciders) or "someone"
    result = (approval.result or "").strip()
    if len(result) > MAX_RESULT:
        result = result[:MAX_RESULT] + f"… ({len(result) - MAX_RESULT} more characters)"
    if approval.status is Status.EXPIRED:
        return f"{head} expired"
    if approval.status is Status.REJECTED:
        return f"{head} rejected by {who}" + (f": {approval.reason}" if approval.reason else "")
    verb = "failed" if approval.status is Status.FAILED else "result"
    return f"{head} approved by {who} — {verb}: {result or 'ok'}"


def queued_line(cards: int, ahead: int, links: list[str]) -> str:
    """What a thread hears when its message must wait for the cards its agent waits on."""
    if cards:
        where = f" ({', '.join(links)})" if links else ""
        waits = f"the {cards} waiting approval{'s are' if cards > 1 else ' is'} decided{where}"
    else:
        waits = f"the {ahead} message{'s' if ahead > 1 else ''} before it {'have' if ahead > 1 else 'has'} run"
    return f"Your message is queued: the agent takes it once {waits}."


def failure_text(exc: Exception, *, resumed: bool = False) -> str:
    """One clear sentence for the thread; the details (never secrets) go to the log."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    # langchain-openai re-raises the client's errors as subclasses, so look along the MRO.
    from_llm = any(c.__module__.split(".")[0] in ("openai", "langchain_openai", "httpx")
                   for c in type(exc).__mro__)
    hints = {401: " (check the API key)", 403: " (check the API key)",
             404: " (check the model or deployment name)"}
    if from_llm and ("RateLimit" in name or status == 429):
        cause = "the language model is rate-limiting us and still refused after several retries"
    elif from_llm and ("Timeout" in name or "Connection" in name):
        cause = "I could not reach the language model (it did not answer after several retries)"
    elif from_llm and isinstance(status, int):
        cause = f"the language model answered with an error (HTTP {status}){hints.get(status, '')}"
    elif from_llm:
        cause = "the language model call failed"
    else:
        cause = "something went wrong while handling that; the operators have the details"
    if resumed:
        then = ("The decision and the call's result are saved; send a message in this thread "
                "and I will continue from there.")
    else:
        then = "Your message is kept in this thread; send another message to try again."
    return f"Sorry, {cause}. {then}"
