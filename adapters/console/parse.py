"""Console input line → neutral command. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.base import Decision


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Decide:
    ref: str  # the card's number as shown, or a full approval id
    decision: Decision
    reason: str = ""
    args: tuple[tuple[str, str], ...] = ()  # an edit's `name=value` pairs


@dataclass(frozen=True)
class SwitchUser:
    name: str


@dataclass(frozen=True)
class Control:
    what: str  # help | pending | quit


Command = Say | Decide | SwitchUser | Control

_DECIDE = re.compile(r"^(approve|a|reject|r)\s+#?(\S+)(?:\s+(.*))?$", re.IGNORECASE)
_EDIT = re.compile(r"^edit\s+#?(\S+)((?:\s+[A-Za-z_][A-Za-z0-9_.-]*=\S*)+)\s*$", re.IGNORECASE)
_REPLY = re.compile(r"^reply\s+#?(\S+)(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_USER = re.compile(r"^(?:/as|as)\s+([A-Za-z0-9._@-]{1,64})$", re.IGNORECASE)
_CONTROL = {"help": "help", "?": "help", "pending": "pending", "quit": "quit", "exit": "quit", "/quit": "quit"}


def parse_line(line: str) -> Command | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.lower() in _CONTROL:
        return Control(_CONTROL[text.lower()])
    found = _USER.match(text)
    if found:
        return SwitchUser(found.group(1))
    found = _EDIT.match(text)
    if found and (found.group(1).isdigit() or found.group(1).startswith("apv_")):
        pairs = tuple(tuple(p.split("=", 1)) for p in found.group(2).split())
        return Decide(found.group(1), Decision.EDIT, args=pairs)
    found = _REPLY.match(text)
    if found and (found.group(1).isdigit() or found.group(1).startswith("apv_")):
        # The answer as typed: the bot refuses an empty or over-long one and says why.
        return Decide(found.group(1), Decision.RESPOND, (found.group(2) or "").strip())
    found = _DECIDE.match(text)
    if found and (found.group(2).isdigit() or found.group(2).startswith("apv_")):
        verb = found.group(1).lower()
        decision = Decision.APPROVE if verb.startswith("a") else Decision.REJECT
        return Decide(found.group(2), decision, (found.group(3) or "").strip())
    return Say(text)
