"""DATABASE_URL: its name, default and check, in one place for the settings and for the commands
that need nothing else (`clearance pending` lists the ledger without loading the settings
machinery, which costs more to import than listing ten thousand rows)."""

from __future__ import annotations

import os
from typing import Mapping

from bot.errors import ConfigError

NAME = "DATABASE_URL"
DEFAULT = "sqlite:///./clearance.db"
ENV_FILE = ".env"
_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def check(value: str) -> str:
    if value.startswith(_SCHEMES):
        return value
    raise ValueError("must start with postgresql:// or sqlite:///")


def _lookup(variables: Mapping[str, str | None]) -> str | None:
    # Names match without regard to case and the last spelling wins, as in the settings; a
    # `.env` line without `=` gives None, which leaves the variable unset.
    return {key.lower(): value for key, value in variables.items()}.get(NAME.lower())


def read(env_file: str = ENV_FILE) -> str:
    """The value the settings would read: the environment, else the `.env` file, else the
    default; ConfigError naming the variable when it is not a URL we serve."""
    value = _lookup(os.environ)
    if value is None and os.path.isfile(env_file):
        from dotenv import dotenv_values  # what the settings read `.env` with

        value = _lookup(dotenv_values(env_file, encoding="utf-8"))
    try:
        return check(DEFAULT if value is None else value)
    except ValueError as exc:
        raise ConfigError(f"{NAME}: {exc}") from None
