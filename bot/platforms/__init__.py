"""The chat platforms, as one registry: what the settings enable, how each is mounted on
the HTTP app, and which approver ids (`<platform>:<id>`) tools.yml may name.

A platform is one folder under adapters/ (parse, render, transport) plus one `Platform`
entry in `PLATFORMS`. Its wiring (building the adapter from settings, start and stop) lives
in bot/platforms/<name>.py, which imports its adapter only when attached: `clearance check`
and `pending` never load a platform SDK they do not use. A platform is attached with the
settings and the service; its adapter receives one `InboundHandlers`, never the service
itself, so adapters stay leaves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from aiohttp import web

from adapters.base import Actor, InboundHandlers
from bot.approvals.ids import ApproverId
from bot.config import Settings
from bot.flow.groups import GroupResolver
from bot.flow.service import Service
from bot.platforms import slack, teams

log = logging.getLogger("clearance")

Attach = Callable[[web.Application, Settings, Service, InboundHandlers], Awaitable[None]]


@dataclass(frozen=True)
class Platform:
    name: str  # Actor.platform, and the prefix of its approver ids
    title: str  # for people: log lines and `clearance check`
    enabled: Callable[[Settings], bool]
    off_reason: str  # what to set to turn it on, said when it is off
    describe: Callable[[Settings], str]  # how it is on (HTTP path, Socket Mode, auth mode)
    attach: Attach  # mount it on the app and register its adapter with the service
    approver_forms: tuple[str, ...]  # the approver ids it accepts, as shown to operators
    group_resolver: Callable[[Settings], GroupResolver] | None = None  # `<name>:group:…` approvers

    def status(self, settings: Settings) -> str:
        if self.enabled(settings):
            return f"{self.title} on ({self.describe(settings)})"
        return f"{self.title} off ({self.off_reason})"


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        name="slack", title="Slack",
        enabled=lambda s: s.slack_enabled, off_reason="SLACK_BOT_TOKEN unset",
        describe=slack.describe, attach=slack.attach,
        approver_forms=("slack:U…", "slack:group:S…"), group_resolver=slack.group_resolver,
    ),
    Platform(
        name="teams", title="Teams",
        enabled=lambda s: s.teams_enabled, off_reason="TEAMS_APP_ID unset",
        describe=teams.describe, attach=teams.attach,
        approver_forms=("teams:<aad id>",),
    ),
)

# Places that decide without a chat platform: API tokens and the terminal. They are always on.
BUILT_IN_APPROVERS: dict[str, tuple[str, ...]] = {"api": ("api:<name>",), "console": ("console:<user>",)}


def approver_platforms() -> frozenset[str]:
    """Every prefix an approver id may carry. A registered platform counts even when it is
    off, so turning Slack off never makes a tools file with Slack approvers invalid."""
    return frozenset(p.name for p in PLATFORMS) | frozenset(BUILT_IN_APPROVERS)


def approver_forms() -> tuple[str, ...]:
    return tuple(f for p in PLATFORMS for f in p.approver_forms) + tuple(
        f for forms in BUILT_IN_APPROVERS.values() for f in forms)


def enabled_platforms(settings: Settings) -> tuple[Platform, ...]:
    return tuple(p for p in PLATFORMS if p.enabled(settings))


def summary(settings: Settings) -> str:
    """One line saying which platforms are on and, for each one off, what would turn it on."""
    statuses = ", ".join(p.status(settings) for p in PLATFORMS)
    if enabled_platforms(settings):
        return f"chat platforms: {statuses}"
    return f"no chat platform configured: {statuses}; {still_working(settings)}"


def still_working(settings: Settings) -> str:
    """What a person can still decide with when no chat platform is on: never the API when
    it is off, so nobody goes looking for an endpoint that answers 404."""
    if settings.api_enabled:
        return "the approvals API and console still work"
    return "the console still works; the approvals API is off (set CLEARANCE_API_TOKEN or CLEARANCE_API_TOKENS)"


def group_resolver(settings: Settings) -> GroupResolver | None:
    """The Service's group lookup over every enabled platform that has groups; None when
    none does (then no actor is in any group, so group approvers fail closed)."""
    resolvers = [p.group_resolver(settings) for p in enabled_platforms(settings) if p.group_resolver]
    if not resolvers:
        return None
    if len(resolvers) == 1:
        return resolvers[0]

    async def any_platform(actor: Actor, approvers: Sequence[ApproverId]) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for resolve in resolvers:  # each answers for its own platform's actors only
            found |= await resolve(actor, approvers)
        return found

    return any_platform


async def attach_platforms(app: web.Application, settings: Settings, service: Service) -> tuple[Platform, ...]:
    """Mount every enabled platform; returns those attached."""
    on = enabled_platforms(settings)
    if on:
        log.info(summary(settings))
    else:
        log.warning(summary(settings))
    handlers = service.inbound_handlers()
    for platform in on:
        await platform.attach(app, settings, service, handlers)
    return on
