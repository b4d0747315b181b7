"""One-time step-up links: a decision waiting for its clicker's fresh login.

Only a hash of the link's secret is stored: reading the database gives no working link. A
link is bound to the approval, its revision, the decision and the clicker, lives five
minutes, is opened once (`begin` is a compare-and-set on `started_at`) and used once (`use`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

from adapters.base import Actor, Conversation, Place
from bot.ledger.database import Database
from bot.ledger.rows import conversation_json, conversation_of

LINK_TTL = 300.0  # seconds a link stays good: time enough to log in, not to be forwarded around


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StepUpLink:
    digest: str
    approval_id: str
    revision: int
    decision: str
    reason: str
    actor: Actor
    conversation: Conversation | None
    place: Place | None
    created_at: float
    state: str | None
    nonce: str | None
    verifier: str | None


def _link(row: dict[str, Any]) -> StepUpLink:
    place = json.loads(row["place"]) if row.get("place") else None
    return StepUpLink(
        digest=row["token"], approval_id=row["approval_id"], revision=int(row["revision"]),
        decision=row["decision"], reason=row["reason"] or "", actor=Actor.from_json(json.loads(row["actor"])),
        conversation=conversation_of(row["conversation"]) if row.get("conversation") else None,
        place=Place.from_json(place) if isinstance(place, dict) else None, created_at=float(row["created_at"]),
        state=row.get("state"), nonce=row.get("nonce"), verifier=row.get("verifier"))


class StepUpLinks:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def create(self, *, approval_id: str, revision: int, decision: str, reason: str, actor: Actor,
                     conversation: Conversation | None, place: Place | None) -> str:
        """A new link's secret (returned once, never stored)."""
        token = secrets.token_urlsafe(32)
        await self.db.execute(
            """INSERT INTO clearance_step_ups (token, approval_id, revision, decision, reason, actor, conversation,
                 place, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            digest(token), approval_id, revision, decision, reason[:500], json.dumps(actor.to_record()),
            conversation_json(conversation) if conversation else None,
            json.dumps(place.to_json()) if place else None, self.clock())
        return token

    async def peek(self, token: str) -> StepUpLink | None:
        rows = await self.db.fetch("SELECT * FROM clearance_step_ups WHERE token = ?", digest(token))
        return _link(rows[0]) if rows else None

    async def begin(self, token: str, *, state: str, nonce: str, verifier: str) -> StepUpLink | None:
        """Open the link, once, while it is fresh: None if it is unknown, used, opened before or old."""
        now = self.clock()
        rows = await self.db.fetch(
            """UPDATE clearance_step_ups SET state = ?, nonce = ?, verifier = ?, started_at = ?
               WHERE token = ? AND started_at IS NULL AND used_at IS NULL AND created_at > ? RETURNING *""",
            state, nonce, verifier, now, digest(token), now - LINK_TTL)
        return _link(rows[0]) if rows else None

    async def by_state(self, state: str) -> StepUpLink | None:
        rows = await self.db.fetch("SELECT * FROM clearance_step_ups WHERE state = ? AND used_at IS NULL", state)
        return _link(rows[0]) if rows else None

    async def use(self, link: StepUpLink) -> bool:
        """Spend the link: True for the one caller that may apply its decision."""
        return await self.db.execute(
            "UPDATE clearance_step_ups SET used_at = ? WHERE token = ? AND used_at IS NULL", self.clock(),
            link.digest) == 1
