"""Approvals HTTP API and metrics (issue 6)."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime


def add_api_routes(app: web.Application, runtime: Runtime) -> None:
    """Mount /api/approvals… (when CLEARANCE_API_TOKEN is set) and /metrics."""
