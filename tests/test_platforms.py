"""The platform registry: which platforms the settings turn on, what `serve` says about
them, and the approver ids tools.yml may name (every registered platform, plus api and
console)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.http.server import build_app
from bot.platforms import PLATFORMS, approver_platforms, attach_platforms, enabled_platforms, group_resolver
from bot.platforms.slack_groups import SlackGroupResolver
from bot.runtime import load_tools
from tests.conftest import runtime_for
from tests.test_layering import _imports

ROOT = Path(__file__).resolve().parent.parent
ALL_OFF = ("no chat platform configured: Slack off (SLACK_BOT_TOKEN unset), Teams off (TEAMS_APP_ID unset); "
           "the console still works; the approvals API is off (set CLEARANCE_API_TOKEN or CLEARANCE_API_TOKENS)")


def test_platform_code_lives_under_bot_platforms() -> None:
    """The seam: outside bot/platforms/, bot/ names no platform SDK and no platform adapter,
    so a new platform touches its adapters/ folder and the registry, nothing else in bot/."""
    platform_modules = ("slack_sdk", "slack_bolt", "microsoft_agents", "adapters.slack", "adapters.teams")
    found = [(f, m) for f, m in _imports("bot") if m.startswith(platform_modules)]
    assert found  # the checker sees the platforms' own imports
    assert [(f, m) for f, m in found if not f.startswith("bot/platforms/")] == []


def _tools(tmp_path: Path, approver: str) -> str:
    path = tmp_path / "tools.yml"
    path.write_text(f"tools:\n  - name: x\n    approval: [{{approvers: ['{approver}']}}]\n    run: {{command: [a]}}\n")
    return str(path)


def test_registered_names_are_the_approver_prefixes() -> None:
    assert [p.name for p in PLATFORMS] == ["slack", "teams"]
    assert approver_platforms() == {"slack", "teams", "api", "console"}


def test_the_bot_validates_approvers_against_its_registry(tmp_path: Path) -> None:
    # Slack is off in these settings, yet its approvers stay valid: the registry, not the
    # settings, decides which prefixes exist.
    for approver in ("slack:group:S0ONCALL", "teams:8f2e", "api:release-bot", "console:alice"):
        assert load_tools(load_settings(CLEARANCE_TOOLS=_tools(tmp_path, approver))).tools
    with pytest.raises(ConfigError) as err:
        load_tools(load_settings(CLEARANCE_TOOLS=_tools(tmp_path, "matrix:@x:example.org")))
    assert "CLEARANCE_TOOLS" in str(err.value) and "'matrix:@x:example.org'" in str(err.value)


def test_settings_decide_which_platforms_are_on() -> None:
    off = load_settings()
    assert enabled_platforms(off) == () and group_resolver(off) is None
    both = load_settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", TEAMS_ALLOW_ANONYMOUS=True)
    assert [p.name for p in enabled_platforms(both)] == ["slack", "teams"]
    assert isinstance(group_resolver(both), SlackGroupResolver)  # Teams has no groups to look up


async def test_serve_says_in_one_line_when_no_platform_is_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clearance")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db") as runtime:
        app = build_app(runtime, sweep=False)
        assert await attach_platforms(app, runtime.settings, runtime.service) == ()
    said = [r for r in caplog.records if r.name == "clearance" and "platform" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in said] == [(logging.WARNING, ALL_OFF)]
    paths = {getattr(r.resource, "canonical", "") for r in app.router.routes()}
    assert "/slack/events" not in paths and "/api/messages" not in paths


async def test_serve_names_what_is_on_and_what_is_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clearance")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", TEAMS_ALLOW_ANONYMOUS=True) as runtime:
        app = build_app(runtime, sweep=False)
        assert [p.name for p in await attach_platforms(app, runtime.settings, runtime.service)] == ["teams"]
    said = [r.getMessage() for r in caplog.records if r.name == "clearance" and "platform" in r.getMessage()]
    assert said == ["chat platforms: Slack off (SLACK_BOT_TOKEN unset), Teams on (anonymous, local testing only)"]
    assert "teams" in runtime.service.adapters


def test_check_reports_the_platforms(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{tmp_path}/c.db")
    run = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "slack: off (SLACK_BOT_TOKEN unset)" in run.stdout and "teams: off (TEAMS_APP_ID unset)" in run.stdout
    assert "chat platforms enabled: none — the console still works; the approvals API is off" in run.stdout
    assert "approvals api: off (set CLEARANCE_API_TOKEN or CLEARANCE_API_TOKENS to turn it on)" in run.stdout

    env.update(SLACK_BOT_TOKEN="xoxb-check-token", SLACK_APP_TOKEN="xapp-check-token")
    run = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "slack: Socket Mode" in run.stdout and "chat platforms enabled: slack" in run.stdout
    assert "xoxb-check-token" not in run.stdout + run.stderr


async def test_serve_promises_the_api_only_when_it_is_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clearance")
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", CLEARANCE_API_TOKEN="t" * 32) as runtime:
        await attach_platforms(build_app(runtime, sweep=False), runtime.settings, runtime.service)
    said = [r.getMessage() for r in caplog.records if r.name == "clearance" and "platform" in r.getMessage()]
    assert said == [ALL_OFF.split("; ")[0] + "; the approvals API and console still work"]
