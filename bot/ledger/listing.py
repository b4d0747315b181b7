"""`clearance pending` without `--for`: the pending queue, written from the ledger's columns.

Guarantees kept here:
- every pending approval not past its expiry is listed, oldest first, in keyset pages of
  (created_at, id) to the end (`page_query`): a long queue is never cut at a page size;
- a `--json` line is, byte for byte, `json.dumps(approval.to_public())` of its row (what
  the command wrote when it built an `Approval` a row), yet no `Approval` is built: ten
  thousand rows cost what copying their strings costs, not what decoding them into objects
  would. Each column is either copied as stored, where the stored text already is its public
  text, or put through the same model methods `to_public` uses, once per distinct text;
- nothing here imports the approval models, the settings or the graph up front (a rule is
  read with `RuleSnapshot` alone; an odd requester or a decision with the models, when one
  is met): a process that only lists starts in a fraction of the time the others take.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, TextIO

from bot.approvals.times import iso, iso_by_second
from bot.ledger.database import Database
from bot.ledger.schema import page_query

# Rows a statement: enough that round trips do not count, few enough that PostgreSQL walks the
# (created_at, id) index rather than sorting the whole queue (it did at 5,000 of 10,000).
PAGE = 2000
# The columns of the public shape, in its order (`Approval.to_public`); created_at and id
# also key the pages.
COLUMNS = "id, thread_id, tool, args, status, requester, rule, decisions, created_at, expires_at, result, revision"
_quote = json.encoder.encode_basestring_ascii  # how json.dumps writes a str (ensure_ascii)
# A JSON string exactly as json.dumps writes it: printable ASCII as itself, `"` `\` and the
# controls with short escapes as those, everything else as a lower-case \uXXXX. Possessive
# (`++`, `*+`): text that is not such a string fails in linear time, never by backtracking.
_STRING = (r'"(?:[ !#-\[\]-~]++|\\["\\bfnrt]|'
           r'\\u(?:00(?:0[0-7bef]|1[0-9a-f]|7f|[89a-f][0-9a-f])|0[1-9a-f][0-9a-f]{2}|[1-9a-f][0-9a-f]{3}))*+"')
# A requester as the ledger writes it (`Actor.to_record`): its public form (`Actor.to_json`)
# is the same text without the tenant and credential.
_RECORD = re.compile(rf'(\{{"platform": {_STRING}, "id": {_STRING}, "name": {_STRING})'
                     rf'(?:, "tenant": {_STRING})?(?:, "via": {_STRING})?\}}')


def _memo(public: Callable[[str], Any]) -> Callable[[str], str]:
    """The public JSON text of a stored JSON column, worked out once per distinct text: a
    queue holds few rules and decision lists, repeated on many rows."""
    seen: dict[str, str] = {}

    def text(stored: str) -> str:
        out = seen.get(stored)
        if out is None:
            out = seen[stored] = json.dumps(public(stored))
        return out

    return text


def _actor(stored: str) -> Any:
    from adapters.base import Actor

    return Actor.from_json(json.loads(stored)).to_json()


def _rule(stored: str) -> Any:
    from bot.approvals.rule_snapshot import RuleSnapshot

    return RuleSnapshot.from_json(json.loads(stored)).to_json()


def _decisions(stored: str) -> Any:
    entries = json.loads(stored)
    if entries == []:  # undecided, as most pending approvals are: nothing to read
        return []
    from bot.approvals.models import DecisionEntry

    return [DecisionEntry.from_json(d).to_json() for d in entries]


class PublicText:
    """The text of each column as `json.dumps(approval.to_public())` writes it."""

    def __init__(self) -> None:
        self.actor, self.rule, self.decisions = _memo(_actor), _memo(_rule), _memo(_decisions)
        self.time = iso_by_second()

    def requester(self, stored: str) -> str:
        record = _RECORD.fullmatch(stored)
        return record[1] + "}" if record else self.actor(stored)

    def json_line(self, row: tuple[Any, ...]) -> str:
        """`args` is stored as json.dumps wrote it, and json.dumps writes what json.loads
        makes of that text the same way again: it is copied."""
        approval_id, thread_id, tool, args, status, requester, rule, decisions, created, expires, result, revision = row
        # ISO times need no escaping.
        until = f'"{self.time(expires)}"' if expires else "null"
        return (f'{{"id": {_quote(approval_id)}, "thread_id": {_quote(thread_id)}, "tool": {_quote(tool)}, '
                f'"args": {args}, "status": {_quote(status)}, "requested_by": {self.requester(requester)}, '
                f'"rule": {self.rule(rule)}, "decisions": {self.decisions(decisions)}, '
                f'"created_at": "{self.time(created)}", "expires_at": {until}, '
                f'"result": {"null" if result is None else _quote(result)}, "revision": {int(revision or 1)}}}')

    def table_line(self, row: tuple[Any, ...]) -> str:
        who = json.loads(self.requester(row[5]))
        return table_line(row[0], row[2], row[3], f"{who['platform']}:{who['id']}", row[1], row[9])


def table_line(approval_id: str, tool: str, args: str, requester: str, thread_id: str,
               expires_at: float | None) -> str:
    """One approval for a person to read: `args` as JSON text, `requester` qualified."""
    return f"{approval_id}  {tool} {args}  by {requester}  thread {thread_id}  expires {iso(expires_at) or 'never'}"


async def print_pending(db: Database, out: TextIO, as_json: bool, page: int = PAGE) -> int:
    """Write every pending approval to `out`, one line each; the number written."""
    public = PublicText()
    line = public.json_line if as_json else public.table_line
    shown = 0
    after: tuple[float, str] | None = None
    more = True
    while more:
        # Past its expiry is expired, whether or not a server has swept it yet.
        sql, params = page_query(COLUMNS, ["status = ?", "(expires_at IS NULL OR expires_at > ?)"],
                                 ["pending", time.time()], after, page)
        rows = await db.fetch_values(sql, *params)
        more = len(rows) > page
        del rows[page:]
        if rows:
            after = (rows[-1][8], rows[-1][0])
            # One write a page: a write a row costs more than the row itself.
            out.write("\n".join(map(line, rows)) + "\n")
        shown += len(rows)
    return shown
