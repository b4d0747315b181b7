"""Teams settings: anonymous mode never runs next to real credentials."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import ConfigError

PASSWORD = "s3cret-teams-password"


def test_anonymous_mode_with_an_app_password_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.setenv("TEAMS_ALLOW_ANONYMOUS", "true")
    monkeypatch.setenv("TEAMS_APP_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("TEAMS_APP_PASSWORD", PASSWORD)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith("TEAMS_ALLOW_ANONYMOUS:") and "TEAMS_APP_PASSWORD" in message
    assert "\n" not in message and PASSWORD not in message


@pytest.mark.parametrize("env", [
    {"TEAMS_ALLOW_ANONYMOUS": "true"},
    {"TEAMS_ALLOW_ANONYMOUS": "true", "TEAMS_APP_ID": "00000000-0000-0000-0000-000000000001"},
    {"TEAMS_ALLOW_ANONYMOUS": "false", "TEAMS_APP_ID": "00000000-0000-0000-0000-000000000001",
     "TEAMS_APP_PASSWORD": PASSWORD},
    {"TEAMS_ALLOW_ANONYMOUS": "true", "TEAMS_APP_PASSWORD": "  "},  # blank is unset
])
def test_either_mode_alone_is_fine(monkeypatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings().teams_enabled
