"""The ids a rule names, parsed once into typed values: approvers (`*`, `slack:U…`,
`slack:group:S…`, `teams:<aad id>`, `api:<name>`, `console:<user>`) and notify targets
(`slack:channel:C…`, `slack:dm`, `teams:dm`).

The tools file's loader has already checked their form; these types only read them, so the
flow asks "is this a group?" or "which platform's DMs?" of a value, never of a string split.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where an actor is built: reading a rule needs no chat contract
    from adapters.base import Actor

ANYONE = "*"
# Every name used with the shared CLEARANCE_API_TOKEN is the same credential. The "@" is outside
# the name alphabet, so no named token's `token:<name>` can ever equal it.
SHARED_TOKEN_VIA = "token:@CLEARANCE_API_TOKEN"
GROUP = "group"
CHANNEL = "channel"
DM = "dm"


@dataclass(frozen=True)
class ApproverId:
    """One entry of a rule's `approvers`: anyone, one user (or API identity), or a group."""

    platform: str  # "" for anyone
    id: str  # the user, API name or group id, without its prefix
    group: bool = False

    @property
    def anyone(self) -> bool:
        return not self.platform

    @property
    def text(self) -> str:
        if self.anyone:
            return ANYONE
        return f"{self.platform}:{GROUP}:{self.id}" if self.group else f"{self.platform}:{self.id}"

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def parse(text: str) -> ApproverId:
        if text == ANYONE:
            return ApproverId("", "")
        platform, _, rest = text.partition(":")
        kind, sep, group_id = rest.partition(":")
        if kind == GROUP and sep:
            return ApproverId(platform, group_id, group=True)
        return ApproverId(platform, rest)

    @staticmethod
    def of(value: ApproverId | str) -> ApproverId:
        return value if isinstance(value, ApproverId) else ApproverId.parse(value)

    def admits(self, actor: Actor, groups: frozenset[str] = frozenset()) -> bool:
        """Does this entry name `actor`? A group admits the members the caller resolved for
        this actor (passed in, so this stays pure)."""
        if self.anyone:
            return True
        if self.platform != actor.platform:
            return False
        return self.id in groups if self.group else self.id == actor.id


@dataclass(frozen=True)
class NotifyTarget:
    """Where copies of a card go: one channel of a platform, or each approver's DMs there."""

    platform: str
    channel: str = ""  # "" for direct messages

    @property
    def dm(self) -> bool:
        return not self.channel

    @property
    def text(self) -> str:
        return f"{self.platform}:{DM}" if self.dm else f"{self.platform}:{CHANNEL}:{self.channel}"

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def parse(text: str) -> NotifyTarget:
        platform, _, rest = text.partition(":")
        kind, _, channel = rest.partition(":")
        return NotifyTarget(platform, channel if kind == CHANNEL else "")


def approver_ids(texts: tuple[str, ...]) -> tuple[ApproverId, ...]:
    return tuple(ApproverId.parse(t) for t in texts)


def notify_targets(texts: tuple[str, ...]) -> tuple[NotifyTarget, ...]:
    return tuple(NotifyTarget.parse(t) for t in texts)


def dm_platforms(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The platforms whose approvers are reached by direct message."""
    return tuple(t.platform for t in notify_targets(texts) if t.dm)


def actor_of(qualified: str) -> Actor:
    """The actor a qualified id (`slack:U012ABC`) names, for "what may this person decide"."""
    from adapters.base import Actor

    platform, _, user = qualified.partition(":")
    return Actor(platform=platform, id=user, name=user)


@dataclass(frozen=True)
class PostTarget:
    """Where a run started outside a chat posts its root message: `slack:channel:C…` or
    `teams:conversation:<id>`."""

    platform: str
    where: str

    @property
    def text(self) -> str:
        kind = CHANNEL if self.platform == "slack" else "conversation"
        return f"{self.platform}:{kind}:{self.where}"

    @staticmethod
    def parse(text: str) -> PostTarget | None:
        platform, _, rest = text.partition(":")
        kind, _, where = rest.partition(":")
        if platform == "slack" and kind == CHANNEL and where.isalnum() and where[:1].isupper():
            return PostTarget(platform, where)
        if platform == "teams" and kind == "conversation" and where and len(where) <= 500 and where.isprintable():
            return PostTarget(platform, where)
        return None


def credential_of(actor: Actor) -> str | None:
    """Which API credential acted, for the audit trail: the variable that holds it (and the
    name, for a named token), never the token itself; None for anyone else."""
    if actor.platform != "api" or not actor.via:
        return None
    if actor.via == SHARED_TOKEN_VIA:
        return "CLEARANCE_API_TOKEN"
    return f"CLEARANCE_API_TOKENS:{actor.via.removeprefix('token:')}"
