"""Configuration values shared by tools and MCP servers: durations and `env:` maps."""

from __future__ import annotations

import os
import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_COPY = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Set by the executor itself for every run; a tool's `env:` must not be able to forge them.
RESERVED_ENV = frozenset({"CLEARANCE_IDEMPOTENCY_KEY", "CLEARANCE_APPROVED_BY"})


def parse_duration(value: Any) -> float:
    """'45s', '30m', '2h', '1d', or a number of seconds → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (use 45s, 30m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


def resolve_env(owner: str, env: dict[str, str]) -> dict[str, str]:
    """An `env:` map with every `${VAR}` copied from the bot's environment now: an unset VAR is
    a configuration error at load, not an empty value at run time. A value is either literal
    configuration or exactly `${VAR}`; copied values are secrets, literal ones are not."""
    resolved: dict[str, str] = {}
    for key, value in env.items():
        if not _ENV_NAME.match(key) or key in RESERVED_ENV:
            raise ValueError(f"{owner}: env {key!r} is not a name a tool may set")
        copy = _ENV_COPY.match(value)
        if copy:
            if copy.group(1) not in os.environ:
                raise ValueError(f"{owner}: env {key}: ${{{copy.group(1)}}} is not set in the environment")
            resolved[key] = os.environ[copy.group(1)]
        elif "${" in value:
            raise ValueError(f"{owner}: env {key}: a copied variable must be the whole value, exactly ${{NAME}}")
        else:
            resolved[key] = value
    return resolved


def copied_values(env: dict[str, str], resolved: dict[str, str]) -> frozenset[str]:
    """The values an `env:` map copied from the bot's environment (its secrets)."""
    return frozenset(resolved[k] for k, v in env.items() if _ENV_COPY.match(v))
