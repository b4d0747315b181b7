"""Starting the Teams side logs one line, not the SDK's connection table."""

from __future__ import annotations

import logging

import pytest

from adapters.base import InboundHandlers
from adapters.teams import TeamsAdapter


async def _nothing(*args: object) -> None:
    return None


async def _no_thread(thread_id: str) -> bool:
    return False


def test_no_connection_dump_at_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    TeamsAdapter(InboundHandlers(_nothing, _nothing, _no_thread), app_id="00000000-0000-0000-0000-000000000001",
                 app_password="not-a-real-password", tenant_id="contoso.onmicrosoft.com")
    dumped = [r for r in caplog.records if "Connections" in r.getMessage()]
    assert not dumped, caplog.text
    assert "not-a-real-password" not in caplog.text
