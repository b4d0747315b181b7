"""Group approvers (`slack:group:S…`): which of an approval's groups an actor is in.

Looked up in one place with one error behaviour: a lookup that fails counts as "in none of
them" (an approval rule must fail closed) and is one warning line; the next click asks again.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Sequence

from adapters.base import Actor
from bot.approvals.ids import ApproverId
from bot.approvals.models import Approval

log = logging.getLogger("clearance.service")
# Of the group approvers given, the group ids the actor is a member of (each platform's
# resolver answers for its own platform's groups and actors only).
GroupResolver = Callable[[Actor, Sequence[ApproverId]], Awaitable[frozenset[str]]]


class Groups:
    def __init__(self, resolver: GroupResolver | None) -> None:
        self.resolver = resolver

    async def of(self, actor: Actor, approval: Approval) -> frozenset[str]:
        """The approval's group approvers `actor` is a member of; none when no platform can tell."""
        groups = approval.rule.group_approvers
        if not groups or self.resolver is None:
            return frozenset()
        try:
            return await self.resolver(actor, groups)
        except Exception as exc:
            log.warning("group lookup for %s failed (%s): counted as in none of %s's groups", actor.qualified,
                        type(exc).__name__, approval.id)
            return frozenset()
