"""The neutral contract between the bot and every chat platform.

Adapters turn platform payloads into these events and render these views; the bot never
sees Block Kit, Adaptive Cards or terminal text, and adapters never see LangGraph.
Everything here is JSON-safe and frozen so it can be logged, stored and compared.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine, Mapping, Protocol, runtime_checkable


@dataclass(frozen=True)
class Actor:
    """A person (or system) on a platform. `qualified` is the id used in tools.yml."""

    platform: str
    id: str
    name: str = ""
    tenant: str = ""
    # The credential that vouches for this actor, when one credential may speak under
    # several names (an approvals API token): a quorum counts credentials, not names.
    via: str = ""

    @property
    def approver_key(self) -> str:
        """What makes two approvals come from two approvers."""
        return self.via or self.qualified

    @property
    def qualified(self) -> str:
        return f"{self.platform}:{self.id}"

    @property
    def display(self) -> str:
        return self.name or self.id

    def to_json(self) -> dict[str, str]:
        return {"platform": self.platform, "id": self.id, "name": self.name}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Actor:
        return cls(
            platform=str(data.get("platform", "")),
            id=str(data.get("id", "")),
            name=str(data.get("name", "") or ""),
            tenant=str(data.get("tenant", "") or ""),
            via=str(data.get("via", "") or ""),
        )

    def to_record(self) -> dict[str, str]:
        """`to_json` plus what stored decisions need to be counted and bound again later."""
        extra = {k: v for k, v in (("tenant", self.tenant), ("via", self.via)) if v}
        return {**self.to_json(), **extra}


@dataclass(frozen=True)
class Conversation:
    """Where to post: the LangGraph thread id plus what the platform needs to reach it
    later (Slack channel and thread_ts, Teams conversation reference with service URL)."""

    platform: str
    thread_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    """One place a card was posted, or a click came from. A decision counts only when the
    click's place is one the bot posted that card to, so a valid approval id carried into
    another channel, workspace or tenant decides nothing."""

    platform: str
    workspace: str  # Slack team id, Teams tenant id
    channel: str  # Slack channel id (or "home:<user>" for App Home), Teams conversation id
    message: str  # Slack message ts (or view id), Teams activity id

    def to_json(self) -> dict[str, str]:
        return {"platform": self.platform, "workspace": self.workspace,
                "channel": self.channel, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Place:
        return cls(*(str(data.get(k, "")) for k in ("platform", "workspace", "channel", "message")))


@dataclass(frozen=True)
class InboundMessage:
    conversation: Conversation
    text: str
    actor: Actor
    event_id: str = ""


class Decision(str, enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"  # change the call's arguments before anyone approves it (carries `args`)
    # Answer in the tool's place: the call does not run and the text (carried in `reason`)
    # is its result. Offered only where the agent allows it (LangChain's "respond").
    RESPOND = "respond"


# What a card offers by default: an agent that says nothing about its decisions gets these.
DEFAULT_ACTIONS: tuple[Decision, ...] = (Decision.APPROVE, Decision.REJECT, Decision.EDIT)


@dataclass(frozen=True)
class DecisionClick:
    approval_id: str
    decision: Decision
    actor: Actor
    reason: str = ""  # a rejection's reason, or a reply's text (RESPOND)
    conversation: Conversation | None = None
    # Where the click happened. None only for the approvals API and the console, which are
    # places of their own, bound by their identities.
    place: Place | None = None
    # An edit: the submitted values by argument name (text from forms, JSON from the API).
    args: Mapping[str, Any] | None = None
    # The card revision the clicker saw, when the platform carries it back (an edit form
    # does): a decision on an older revision is refused rather than applied to a newer one.
    revision: int | None = None
    # Set by the bot only, once the clicker logged in again at the identity provider for this
    # very decision (a step-up rule): the ID token's iss, sub, auth_time and acr. Never parsed
    # from a platform payload.
    step_up: Mapping[str, Any] | None = None


class CardStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"  # approved, our executor is running it
    WAITING_WORKER = "waiting_worker"  # approved, an external worker must post the result
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    APPROVED = "approved"  # approved; the agent's own tool runs it
    ANSWERED = "answered"  # someone replied in the tool's place (`result` is the reply)


@dataclass(frozen=True)
class CardEdit:
    """One edit shown on the card: who changed which arguments, from what to what."""

    by: Actor
    changes: tuple[tuple[str, Any, Any], ...]  # (argument, old value, new value); None: absent

    @property
    def change_text(self) -> str:
        """`version: v2.3 → v2.4`"""
        return ", ".join(f"{k}: {_plain(old)} → {_plain(new)}" for k, old, new in self.changes)

    def describe(self, name: Callable[[Actor], str] = lambda actor: actor.display) -> str:
        """`version: v2.3 → v2.4, edited by dana`"""
        return f"{self.change_text}, edited by {name(self.by)}"


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else repr(value)


class ViewerRole(str, enum.Enum):
    """What one person may do with a card now: Teams shows each listed person their own."""

    DECIDER = "decider"  # may decide now: the buttons the agent allows
    REQUESTER = "requester"  # asked for it and may not approve it: Withdraw only
    APPROVED = "approved"  # approved this revision and waits for others: no Approve
    EDITOR = "editor"  # edited it, so their approval would not count: no Approve
    OBSERVER = "observer"  # facts and state only


@dataclass(frozen=True)
class Viewer:
    role: ViewerRole
    note: str = ""  # one line addressed to this person, e.g. "You approved — waiting for 1 more."


@dataclass(frozen=True)
class ApprovalCard:
    """What a card shows. Renderers must show the same facts on every platform."""

    approval_id: str
    tool: str
    args: Mapping[str, Any]
    requester: Actor
    rule: str
    status: CardStatus = CardStatus.PENDING
    expires_at: float | None = None
    description: str = ""
    decided_by: tuple[Actor, ...] = ()
    reason: str = ""
    result: str = ""
    quorum: int = 1
    approvals_so_far: tuple[Actor, ...] = ()
    confirm: bool = False
    number: int = 0  # short per-conversation number, used by the console
    editable: tuple[str, ...] = ()  # arguments an approver may change (an Edit button when any)
    edits: tuple[CardEdit, ...] = ()  # every edit so far, oldest first
    revision: int = 1  # 1, then one more per edit
    preview: str = ""  # the tool's preview output for this revision ("" when none)
    preview_failed: bool = False  # the preview crashed or timed out: `preview` says why
    # Qualified ids of the people who may decide (the requester too, who may withdraw); empty
    # when anyone in the conversation may. Teams shows the buttons to these people only.
    approver_ids: tuple[str, ...] = ()
    origin: str = ""  # on a copy posted elsewhere: a link to the requesting thread
    # The decisions this card offers, as the agent allows them: no Approve button without
    # APPROVE, no Edit without EDIT (and something `editable`), a Reply only with RESPOND.
    actions: tuple[Decision, ...] = DEFAULT_ACTIONS
    # Set on a card drawn for one person (a Teams refresh, the clicker's own answer); None on
    # the card everyone shares.
    viewer: Viewer | None = None

    def offers(self, decision: Decision) -> bool:
        if decision is Decision.EDIT:
            return Decision.EDIT in self.actions and bool(self.editable)
        return decision in self.actions

    def progress(self, name: Callable[[Actor], str] = lambda actor: actor.display) -> str:
        """Quorum progress, e.g. '1 of 2 approvals — dana'."""
        text = f"{len(self.approvals_so_far)} of {self.quorum} approvals"
        so_far = ", ".join(name(a) for a in self.approvals_so_far)
        return f"{text} — {so_far}" if so_far else text

    @property
    def summary(self) -> str:
        """One line, e.g. 'deploy api v2.3 to prod' → 'deploy service=api, version=v2.3'."""
        parts = ", ".join(f"{k}={_short(v)}" for k, v in self.args.items())
        return f"{self.tool} {parts}".strip()


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class MessageRef:
    """A posted message or card, as the platform identifies it (Slack ts, Teams activity id)."""

    platform: str
    data: Mapping[str, Any] = field(default_factory=dict)
    place: Place | None = None  # for cards: where clicks on this copy will come from


class Outcome(str, enum.Enum):
    ACCEPTED = "accepted"  # the decision counted (it may still wait for quorum)
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"  # nothing was recorded (the database is down): try again shortly
    STEP_UP = "step_up"  # not yet a decision: the clicker alone is sent a link to log in again first


@dataclass(frozen=True)
class DecisionResult:
    outcome: Outcome
    message: str  # one sentence for the person who clicked
    card: ApprovalCard | None = None
    # A refused edit: what is wrong with each submitted argument (an edit form shows these
    # beside its inputs). "" keys a problem with the edit as a whole.
    errors: Mapping[str, str] = field(default_factory=dict)


# A coroutine, not any awaitable: adapters run message turns as background tasks.
MessageHandler = Callable[[InboundMessage], Coroutine[Any, Any, None]]
DecisionHandler = Callable[[DecisionClick], Awaitable[DecisionResult]]
ThreadCheck = Callable[[str], Awaitable[bool]]
PendingHandler = Callable[["Conversation", Actor], Coroutine[Any, Any, None]]
# A card as it stands now, drawn for the viewer when one is given (their own buttons).
CardLookup = Callable[[str, "Actor | None"], Awaitable["ApprovalCard | None"]]


@dataclass(frozen=True)
class InboundHandlers:
    """What every platform's inbound side calls: the one shape the bot hands to adapters
    (adapters never see the service itself)."""

    on_message: MessageHandler
    on_decision: DecisionHandler
    has_thread: ThreadCheck  # does the bot already run this thread (Slack thread replies)
    # Before showing an edit form: may this clicker edit this card, from where they are?
    # ACCEPTED carries the current card (its editable arguments and values).
    edit_form: DecisionHandler | None = None
    # Before showing a reply form: would this clicker's answer count (its text aside), from
    # where they are? ACCEPTED carries the current card (its revision binds the form).
    reply_form: DecisionHandler | None = None
    # "My pending approvals" asked for (Slack App Home opened, `pending` in a Teams personal
    # chat): the bot answers through `Reaching.post_pending`.
    on_pending: PendingHandler | None = None
    # A card as it stands now, for platforms that fetch it on demand (Teams card refresh).
    current_card: CardLookup | None = None


@runtime_checkable
class ChatAdapter(Protocol):
    """Outbound side of a platform. Every method may raise; the bot logs and carries on."""

    platform: str

    async def post_card(self, conversation: Conversation, card: ApprovalCard) -> MessageRef: ...

    async def update_card(
        self, conversation: Conversation, ref: MessageRef, card: ApprovalCard
    ) -> None: ...

    async def post_text(self, conversation: Conversation, text: str) -> MessageRef: ...

    async def update_text(self, conversation: Conversation, ref: MessageRef, text: str) -> None: ...


@runtime_checkable
class Identities(Protocol):
    """A platform that can tell who a user is beyond their id (for checking a fresh login)."""

    platform: str

    async def email_of(self, user_id: str) -> str | None:
        """The address the user's profile on the platform gives, if it gives one."""
        ...


@runtime_checkable
class Reaching(Protocol):
    """Outbound side for reaching approvers outside the requesting thread. Optional: a
    platform without it gets cards in the thread only. `like` is a conversation of the same
    workspace or tenant (it carries what the platform needs: Slack team, Teams service URL)."""

    platform: str

    async def open_dm(self, like: Conversation, user_id: str) -> Conversation:
        """A one-to-one conversation between the bot and the user (platform id, no prefix)."""
        ...

    async def open_channel(self, like: Conversation, channel_id: str) -> Conversation:
        """A channel to post a copy in, at its top level."""
        ...

    async def link(self, conversation: Conversation, ref: MessageRef) -> str:
        """A link people can open to reach the posted message; "" when there is none."""
        ...

    async def start_thread(self, like: Conversation, where: str, text: str) -> tuple[Conversation, MessageRef]:
        """Post `text` at the top of `where` (a Slack channel id, a Teams conversation id);
        the conversation of the thread it starts (replies there continue one run) and the post."""
        ...

    async def group_members(self, like: Conversation, group_id: str) -> list[str]:
        """User ids of a group listed as an approver (`<platform>:group:<id>`)."""
        ...

    async def post_mention(self, conversation: Conversation, user_ids: list[str], text: str) -> MessageRef:
        """A text that mentions (notifies) these users."""
        ...

    async def post_pending(self, conversation: Conversation, actor: Actor,
                           cards: list[ApprovalCard]) -> MessageRef:
        """Show `actor` the cards they may decide, each with working buttons. The returned
        ref's place is where clicks on that list come from; `data["republish"]` set means
        the list is redrawn in place (call again after a decision), else it stays as posted."""
        ...
