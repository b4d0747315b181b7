"""A local fake of the Bot Framework connector (what Teams' serviceUrl points at) and
helpers that build Activity JSON exactly as Teams sends it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from aiohttp import web

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT_ID = "28:b0b0b0b0-1111-2222-3333-444444444444"
BOT_NAME = "Clearance"
USERS = {
    # name → (channel id, aad object id)
    "alice": ("29:1alice", "aaaaaaaa-0000-0000-0000-00000000a11c"),
    "dana": ("29:1dana", "dddddddd-0000-0000-0000-000000000da0"),
    "erin": ("29:1erin", "eeeeeeee-0000-0000-0000-0000000000e1"),
}
PERSONAL = "a:1personalconversationid"
GROUP = "19:groupchat0123@thread.v2"
CHANNEL = "19:channel0123@thread.tacv2;messageid=1700000000000"


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str
    activity_id: str
    body: Any
    authorization: str | None
    assigned_id: str = ""  # the id this fake answered a POST with (a posted activity's id)


@dataclass
class FakeConnector:
    """POST/PUT activities and GET members, recorded for assertions."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    fail_posts: int = 0  # how many activity posts to answer 503 (a connector outage) first

    def posts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.assigned_id]

    def puts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]

    def cards(self) -> list[Call]:
        return [c for c in self.posts() if (c.body or {}).get("attachments")]

    def card_activity_id(self, approval_id: str) -> str:
        """The activity id of the first posted card carrying `approval_id` (in its buttons,
        or in its refresh when only its listed approvers see buttons)."""
        for call in self.cards():
            for attachment in call.body["attachments"]:
                content = attachment.get("content", {})
                actions = [*(content.get("actions") or []), (content.get("refresh") or {}).get("action") or {}]
                if any(a.get("data", {}).get("approval_id") == approval_id for a in actions):
                    return call.assigned_id
        raise AssertionError(f"no card posted for {approval_id}")

    def click(self, approval_id: str, verb: str, **kwargs: Any) -> dict[str, Any]:
        """An invoke for a click on the card this connector saw posted (it replies to it)."""
        return card_action(self.url, approval_id, verb, reply_to=self.card_activity_id(approval_id), **kwargs)

    def texts(self) -> list[str]:
        return [c.body.get("text", "") for c in self.calls
                if c.method in ("POST", "PUT") and (c.body or {}).get("text")]

    async def _record(self, request: web.Request) -> Call:
        body = await request.json() if request.can_read_body else None
        call = Call(request.method, request.path, request.match_info.get("conversation_id", ""),
                    request.match_info.get("activity_id", ""), body, request.headers.get("Authorization"))
        self.calls.append(call)
        return call

    async def post_activity(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if self.fail_posts > 0:
            self.fail_posts -= 1
            return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503)
        call.assigned_id = f"1:act{next(self._ids)}"
        return web.json_response({"id": call.assigned_id}, status=201)

    async def create_conversation(self, request: web.Request) -> web.Response:
        """Bot Framework create-conversation: a 1:1 chat with the one member named."""
        call = await self._record(request)
        members = (call.body or {}).get("members") or [{}]
        call.assigned_id = f"a:dm-{members[0].get('id', '')}"
        return web.json_response({"id": call.assigned_id}, status=201)

    def created(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path == "/v3/conversations"]

    async def put_activity(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        return web.json_response({"id": call.activity_id})

    async def get_member(self, request: web.Request) -> web.Response:
        await self._record(request)
        member = self.members.get(request.match_info["member_id"])
        if member is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response(member)


@contextlib.asynccontextmanager
async def fake_connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    for name, (channel_id, aad) in USERS.items():
        fake.members[channel_id] = {"id": channel_id, "name": name.title(), "aadObjectId": aad,
                                    "tenantId": TENANT, "userRole": "user"}
    app = web.Application()
    app.router.add_post("/v3/conversations", fake.create_conversation)
    app.router.add_post("/v3/conversations/{conversation_id}/activities", fake.post_activity)
    app.router.add_post("/v3/conversations/{conversation_id}/activities/{activity_id}", fake.post_activity)
    app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", fake.put_activity)
    app.router.add_get("/v3/conversations/{conversation_id}/members/{member_id}", fake.get_member)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}/"
    try:
        yield fake
    finally:
        await runner.cleanup()


def _conversation(conversation_id: str) -> dict[str, Any]:
    if conversation_id == PERSONAL:
        return {"conversationType": "personal", "tenantId": TENANT, "id": conversation_id}
    if conversation_id == GROUP:
        return {"isGroup": True, "conversationType": "groupChat", "tenantId": TENANT, "id": conversation_id}
    return {"isGroup": True, "conversationType": "channel", "tenantId": TENANT, "id": conversation_id}


def _from(user: str, *, with_aad: bool = True) -> dict[str, Any]:
    channel_id, aad = USERS[user]
    sender: dict[str, Any] = {"id": channel_id, "name": user.title()}
    if with_aad:
        sender["aadObjectId"] = aad
    return sender


def _channel_data(conversation_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"tenant": {"id": TENANT}}
    if conversation_id == CHANNEL:
        data["teamsChannelId"] = "19:channel0123@thread.tacv2"
        data["teamsTeamId"] = "19:team0123@thread.tacv2"
        data["channel"] = {"id": "19:channel0123@thread.tacv2"}
        data["team"] = {"id": "19:team0123@thread.tacv2"}
    return data


def message(service_url: str, text: str, *, user: str = "alice", conversation_id: str = PERSONAL,
            mention: bool | None = None, tenant: str = TENANT) -> dict[str, Any]:
    """A Teams message activity; in group chats and channels the bot is @mentioned."""
    mention = conversation_id != PERSONAL if mention is None else mention
    at = f"<at>{BOT_NAME}</at>"
    activity: dict[str, Any] = {
        "text": f"{at} {text}" if mention else text,
        "textFormat": "plain",
        "type": "message",
        "timestamp": "2026-11-22T04:00:00.000Z",
        "localTimestamp": "2026-11-22T05:00:00.000+01:00",
        "id": str(uuid.uuid4().int)[:13],
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": _from(user),
        "conversation": {**_conversation(conversation_id), "tenantId": tenant},
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "entities": [{"locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin",
                      "type": "clientInfo"}],
        "channelData": {**_channel_data(conversation_id), "tenant": {"id": tenant}},
        "locale": "en-US",
    }
    if mention:
        activity["entities"].append({"mentioned": {"id": BOT_ID, "name": BOT_NAME}, "text": at, "type": "mention"})
    return activity


def card_action(service_url: str, approval_id: str, verb: str, *, user: str = "dana", reason: str = "",
                conversation_id: str = PERSONAL, reply_to: str = "1:act1", with_aad: bool = True) -> dict[str, Any]:
    """The `adaptiveCard/action` invoke Teams sends for an Action.Execute click; inputs
    (the reason box) are merged into `action.data`."""
    data: dict[str, Any] = {"approval_id": approval_id}
    if reason or verb == "reject":
        data["reason"] = reason
    return {
        "name": "adaptiveCard/action",
        "type": "invoke",
        "timestamp": "2026-11-22T04:01:00.000Z",
        "localTimestamp": "2026-11-22T05:01:00.000+01:00",
        "id": f"f:{uuid.uuid4().hex}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": _from(user, with_aad=with_aad),
        "conversation": _conversation(conversation_id),
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "entities": [{"locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin",
                      "type": "clientInfo"}],
        "channelData": {**_channel_data(conversation_id), "source": {"name": "message"},
                        "legacy": {"replyToId": reply_to}},
        "replyToId": reply_to,
        "value": {"action": {"type": "Action.Execute", "title": verb.title(), "verb": verb, "data": data},
                  "trigger": "manual"},
        "locale": "en-US",
    }


async def until(predicate: Any, timeout: float = 15.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False
