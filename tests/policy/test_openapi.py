"""The OpenAPI 3.1 document of the approvals API: valid, served without a token, covering every
route the API sub-app serves, and true to what the handlers answer."""

from __future__ import annotations

from typing import Any

import aiohttp
import jsonschema
from aiohttp.test_utils import TestServer
from openapi_spec_validator import validate

from adapters.base import Decision, DecisionClick
from bot.http.api import APPROVALS_API
from bot.http.runs_api import RUNS
from bot.http.server import build_app
from tests.conftest import console_message, runtime_for
from tests.policy.test_api import TOKEN, call
from tests.policy.tools import DANA, ERIN, policy_tools


def conforms(document: dict[str, Any], schema_name: str, instance: Any) -> None:
    """Validate `instance` against one component schema, resolving refs inside the document."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": document["components"],
            "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(root).validate(instance)


async def test_document_is_valid_complete_and_true(tmp_path) -> None:
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", policy_tools(tmp_path / "runs.txt"), tmp_path,
                           CLEARANCE_API_TOKEN=TOKEN) as rt:
        app = build_app(rt, sweep=False)
        async with TestServer(app, host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            status, document = await call(http, "GET", "/api/openapi.json", headers=None)
            assert status == 200
            validate(document)  # raises on any violation of the OpenAPI 3.1 schema
            assert document["openapi"].startswith("3.1")

            served = {(route.method.lower(), route.resource.canonical)  # type: ignore[union-attr]
                      for sub in (app[APPROVALS_API], app[RUNS]) for route in sub.router.routes()}
            assert ("post", "/api/runs") in served
            documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
            assert served and served == documented
            schemas = document["components"]["schemas"]
            assert {"DecisionBody", "ResultBody", "ApprovalOut", "Page", "Error"} <= set(schemas)
            assert schemas["DecisionBody"]["properties"]["by"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9._-]{1,64}$"
            limit = next(p for p in document["paths"]["/api/approvals"]["get"]["parameters"] if p["name"] == "limit")
            assert limit["schema"]["maximum"] == 500 and limit["schema"]["default"] == 100

            # Real answers conform to the schemas the document gives them.
            await rt.service.on_message(console_message("deploy api to prod"))
            await rt.service.on_message(console_message("deploy web to prod", session="u"))
            first, second = await rt.ledger.approvals(status=["pending"])
            for actor in (DANA, ERIN):
                await rt.service.on_decision(DecisionClick(first.id, Decision.APPROVE, actor))
            await rt.service.drain()
            status, page = await call(http, "GET", "/api/approvals?limit=1")
            assert status == 200 and page["next_cursor"]
            conforms(document, "Page", page)
            status, done = await call(http, "GET", f"/api/approvals/{first.id}")
            assert done["status"] == "done" and done["decisions"]
            conforms(document, "ApprovalOut", done)
            status, error = await call(http, "POST", f"/api/approvals/{first.id}/decision",
                                       json={"decision": "reject", "by": "ci"})
            assert status == 409 and error["approval"]["id"] == first.id
            conforms(document, "Error", error)
            status, error = await call(http, "POST", f"/api/approvals/{second.id}/decision",
                                       json={"decision": "approve", "by": "ci", "extra": 1})
            assert status == 400 and error["error"].startswith("extra:")
            conforms(document, "Error", error)


async def test_no_document_and_no_api_without_a_token(tmp_path) -> None:
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", None, tmp_path) as rt:
        app = build_app(rt, sweep=False)
        assert APPROVALS_API not in app
        async with TestServer(app, host="127.0.0.1") as server, \
                aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
            for path in ("/api/openapi.json", "/api/approvals", "/api/approvals/apv_" + "x" * 22):
                assert (await call(http, "GET", path, headers=None))[0] == 404
            assert (await call(http, "GET", "/metrics", headers=None))[0] == 200
