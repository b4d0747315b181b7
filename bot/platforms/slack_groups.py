"""`slack:group:S…` approvers: which of a rule's Slack user groups an actor is in.

Group membership changes rarely and a click must be answered within seconds, so members
are cached for a short TTL. A failed lookup counts as "not a member" and is not cached: an
approval rule must fail closed, and the next click tries again.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import Actor
from bot.approvals.ids import ApproverId

log = logging.getLogger("clearance.slack")


class SlackGroupResolver:
    """A Service `group_resolver`: of the listed approvers, the group ids the actor is in
    (through `usergroups.users.list`)."""

    def __init__(self, token: str, *, base_url: str = "https://slack.com/api/", ttl: float = 60.0,
                 timeout: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self.client = AsyncWebClient(token=token, base_url=base_url, timeout=timeout)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def __call__(self, actor: Actor, approvers: Sequence[ApproverId | str]) -> frozenset[str]:
        if actor.platform != "slack":
            return frozenset()  # Slack groups hold Slack users only
        groups = [a.id for a in map(ApproverId.of, approvers) if a.group and a.platform == "slack"]
        found = set()
        for group in groups:
            members = await self.members(group)
            if members is not None and actor.id in members:
                found.add(group)
        return frozenset(found)

    async def members(self, group: str) -> frozenset[str] | None:
        """The group's user ids (cached), or None when Slack could not tell us."""
        now = self.clock()
        cached = self._cache.get(group)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group, exc.response.get("error", "unknown"))
            return None
        except Exception as exc:  # network, timeout, a proxy's HTML page: fail closed, say what kind
            log.warning("usergroups.users.list %s failed: %s", group, type(exc).__name__)
            return None
        users = response.get("users") or []
        members = frozenset(u for u in users if isinstance(u, str))
        self._cache[group] = (now + self.ttl, members)
        return members
