"""Step-up: a fresh identity-provider login before a high-risk approval counts.

A click that would approve a card whose rule says `step_up` is not yet a decision: the
clicker alone gets a one-time link (five minutes, bound to the approval, its revision, the
decision and the clicker). The link redirects to the provider (code flow with PKCE, state,
nonce, `prompt=login`, `max_age`, `acr_values`); the callback checks the ID token (the
provider's keys, iss, aud, exp, nonce, `auth_time` not before the link was made, `acr` when
asked) and that the login is the clicker's own — Slack: the token's email is the clicker's
Slack profile email; Teams: its `oid` is the clicker's AAD object id. Only then is the
decision applied, exactly as a click, with the login's iss, sub, auth_time and acr recorded.
Anything else counts for nothing and is audited `refused`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, Callable

from adapters.base import Decision, DecisionClick, DecisionResult, Outcome
from bot.approvals.models import Approval, AuditEvent
from bot.flow.oidc import IdpError, Pkce, Provider
from bot.flow.outbox import Outbox
from bot.ledger.ledger import Ledger
from bot.ledger.step_ups import LINK_TTL, StepUpLink, StepUpLinks

log = logging.getLogger("clearance.step_up")
SKEW = 30.0  # seconds of clock difference allowed between the provider and this server


class StepUpRefused(Exception):
    """Nothing counts; `status` is the page's (4xx) and the message says why."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StepUpSettings:
    issuer: str
    client_id: str
    client_secret: str | None
    public_url: str

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url.rstrip('/')}/auth/callback"


class StepUps:
    def __init__(self, *, links: StepUpLinks, ledger: Ledger, outbox: Outbox, settings: StepUpSettings | None,
                 clock: Callable[[], float]) -> None:
        self.links = links
        self.ledger = ledger
        self.outbox = outbox
        self.settings = settings
        self.provider = Provider(settings.issuer, settings.client_id, settings.client_secret) if settings else None
        self.clock = clock

    async def offer(self, approval: Approval, click: DecisionClick) -> DecisionResult:
        """The clicker's link (theirs alone: adapters answer a non-accepted click privately)."""
        if self.settings is None:
            return DecisionResult(Outcome.NOT_ALLOWED, "This approval needs a fresh login, and no identity "
                                                       "provider is configured (CLEARANCE_OIDC_ISSUER).")
        token = await self.links.create(approval_id=approval.id, revision=approval.revision,
                                        decision=click.decision.value, reason=click.reason, actor=click.actor,
                                        conversation=click.conversation, place=click.place)
        url = f"{self.settings.public_url.rstrip('/')}/auth/step-up?t={token}"
        minutes = int(LINK_TTL // 60)
        return DecisionResult(Outcome.STEP_UP, f"{approval.tool} needs a fresh login before your approval counts: "
                                               f"open {url} (for you only, valid {minutes} minutes).",
                              self.outbox.card(approval))

    async def start(self, token: str) -> str:
        """Where the browser goes from the link: the provider's login, for this link once."""
        assert self.provider is not None and self.settings is not None
        link = await self.links.peek(token) if token else None
        if link is None:
            raise StepUpRefused("This link is not one the bot gave out.", 404)
        approval = await self.ledger.get(link.approval_id)
        if approval is None or approval.rule.step_up is None:
            raise StepUpRefused("This link's approval is gone.", 404)
        pkce, state, nonce = Pkce.new(), secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        if await self.links.begin(token, state=state, nonce=nonce, verifier=pkce.verifier) is None:
            await self._refused(approval, link, "link used, opened before or expired")
            raise StepUpRefused("This link was used already, or has expired: approve on the card again for a "
                                "new one.", 410)
        try:
            return await self.provider.authorize_url(redirect_uri=self.settings.redirect_uri, state=state,
                                                     nonce=nonce, pkce=pkce, max_age=approval.rule.step_up.max_age,
                                                     acr_values=approval.rule.step_up.acr_values)
        except IdpError as exc:
            log.warning("step-up: the identity provider cannot be used: %s", exc)
            raise StepUpRefused("The identity provider cannot be reached right now; try again shortly.", 503) from None

    async def finish(self, *, code: str, state: str, error: str = "") -> DecisionClick:
        """The provider's answer: the click to apply, with the login's proof; StepUpRefused else."""
        assert self.provider is not None and self.settings is not None
        link = await self.links.by_state(state) if state else None
        if link is None or link.verifier is None or link.nonce is None:
            raise StepUpRefused("This login does not belong to a step-up the bot started (unknown or used state).",
                                400)
        approval = await self.ledger.get(link.approval_id)
        if approval is None or approval.rule.step_up is None:
            raise StepUpRefused("This link's approval is gone.", 404)
        if error:
            await self._refused(approval, link, f"provider error {error[:100]}")
            raise StepUpRefused(f"The identity provider did not log you in ({error[:100]}).", 400)
        if self.clock() - link.created_at > LINK_TTL + SKEW:
            await self._refused(approval, link, "expired")
            raise StepUpRefused("This link has expired: approve on the card again for a new one.", 410)
        try:
            token = await self.provider.id_token(code=code, verifier=link.verifier,
                                                 redirect_uri=self.settings.redirect_uri)
            claims = await self.provider.verify(token, nonce=link.nonce)
        except IdpError as exc:
            await self._refused(approval, link, str(exc))
            raise StepUpRefused(f"The login could not be checked: {exc}.", 403) from None
        if (why := self._claims_problem(approval, link, claims)) or (why := await self._not_the_clicker(link, claims)):
            await self._refused(approval, link, why)
            raise StepUpRefused(why, 403)
        if not await self.links.use(link):
            raise StepUpRefused("This link was used already.", 409)
        proof = {"iss": claims.get("iss"), "sub": claims.get("sub"), "auth_time": claims.get("auth_time"),
                 "acr": claims.get("acr")}
        return DecisionClick(link.approval_id, Decision(link.decision), link.actor, reason=link.reason,
                             conversation=link.conversation, place=link.place, revision=link.revision, step_up=proof)

    def _claims_problem(self, approval: Approval, link: StepUpLink, claims: dict[str, Any]) -> str | None:
        assert approval.rule.step_up is not None
        auth_time = claims.get("auth_time")
        if not isinstance(auth_time, (int, float)) or auth_time < link.created_at - SKEW:
            return "This login was made before the link: log in again (a fresh login is the point)."
        wanted = approval.rule.step_up.acr_values
        if wanted and claims.get("acr") not in wanted:
            return f"This login was not made the way the rule asks (acr {claims.get('acr')!r}, wanted one of " \
                   f"{', '.join(wanted)})."
        return None

    async def _not_the_clicker(self, link: StepUpLink, claims: dict[str, Any]) -> str | None:
        actor = link.actor
        if actor.platform == "teams":
            if claims.get("oid") == actor.id:
                return None
        elif actor.platform == "slack":
            email = await self.outbox.email_of(actor)
            given = claims.get("email")
            if email and isinstance(given, str) and given.lower() == email.lower() \
                    and claims.get("email_verified") is not False:
                return None
        return "This login is someone else's: the person who clicked must log in."

    async def _refused(self, approval: Approval, link: StepUpLink, why: str) -> None:
        log.warning("step-up for %s refused: %s", approval.id, why)
        await self.ledger.audit(AuditEvent.REFUSED, approval, actor=link.actor, detail={"step_up": why})
