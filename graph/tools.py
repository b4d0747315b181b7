"""Tool registry from tools.yml: schemas, aliases, approval rules and run specs, as data.

Rule matching and argument validation are pure functions so the graph can call them before
`interrupt()` (they re-run on every resume and must have no side effects).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# An approver is `*` or `<platform>:<id>`. Which platforms exist is the bot's knowledge, not
# the graph's: the bot passes the names in as validation context, and without one (tests,
# tools used outside the bot) these are assumed.
QUALIFIED_ID = re.compile(r"([a-z][a-z0-9_-]*):(.+)")
DEFAULT_PLATFORMS = frozenset({"slack", "teams", "api", "console"})


class ToolsFileError(ValueError):
    """tools.yml is unreadable or invalid; the message names the file and the place."""


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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    when: dict[str, Any] = Field(default_factory=dict)
    required: bool = True
    approvers: list[str] = Field(default_factory=lambda: ["*"])
    quorum: int = Field(default=1, ge=1, le=20)
    allow_self_approval: bool = False
    expires_after: float | None = None
    confirm: bool = False

    @field_validator("expires_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("approvers")
    @classmethod
    def _qualified(cls, value: list[str], info: ValidationInfo) -> list[str]:
        given = info.context.get("platforms") if isinstance(info.context, dict) else None
        platforms = DEFAULT_PLATFORMS if given is None else frozenset(given)
        for item in value:
            match = QUALIFIED_ID.fullmatch(item)
            if item != "*" and (match is None or match.group(1) not in platforms):
                raise ValueError(
                    f"approver {item!r} must be '*' or platform-qualified <platform>:<id>, "
                    f"platform one of {', '.join(sorted(platforms))} "
                    "(e.g. slack:U…, slack:group:S…, teams:<aad id>, api:<name>, console:<user>)"
                )
        return value

    def matches(self, args: dict[str, Any]) -> bool:
        for key, expected in self.when.items():
            actual = args.get(key)
            if isinstance(expected, list):
                if actual not in expected:
                    return False
            elif actual != expected:
                return False
        return True

    def describe(self) -> str:
        if not self.required:
            return "no approval needed"
        cond = ", ".join(f"{k}={v}" for k, v in self.when.items()) or "always"
        who = "anyone" if "*" in self.approvers else ", ".join(self.approvers)
        parts = [f"when {cond}", f"{self.quorum} approval{'s' if self.quorum > 1 else ''}"]
        parts.append(f"by {who}")
        if not self.allow_self_approval:
            parts.append("not the requester")
        return "; ".join(parts)


class WebhookSpec(_Model):
    url: str
    secret_env: str | None = None
    retries: int = Field(default=2, ge=0, le=10)


class RunSpec(_Model):
    command: list[str] | None = None
    webhook: WebhookSpec | None = None
    python: str | None = None
    external: bool = False
    timeout: float = 60.0
    max_output: int = 4000

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> RunSpec:
        chosen = [
            k for k in ("command", "webhook", "python") if getattr(self, k) is not None
        ] + (["external"] if self.external else [])
        if len(chosen) != 1:
            raise ValueError("run needs exactly one of: command, webhook, python, external")
        if self.command is not None and not self.command:
            raise ValueError("run.command must be a non-empty argv list")
        if self.python is not None and ":" not in self.python:
            raise ValueError("run.python must look like 'package.module:function'")
        return self

    @property
    def kind(self) -> Literal["command", "webhook", "python", "external"]:
        if self.command is not None:
            return "command"
        if self.webhook is not None:
            return "webhook"
        if self.python is not None:
            return "python"
        return "external"


class ToolSpec(_Model):
    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    aliases: list[str] = Field(default_factory=list)
    # No rule at all means every call needs a card: a forgotten rule must fail safe.
    approval: list[Rule] = Field(default_factory=lambda: [Rule()])
    run: RunSpec

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        if value.get("type", "object") != "object":
            raise ValueError("parameters must be a JSON Schema of type object")
        return value

    def rule_for(self, args: dict[str, Any]) -> Rule | None:
        """The first matching rule if the call needs approval, None if it runs at once.
        No matching rule fails safe: the call needs anyone's approval."""
        for rule in self.approval:
            if rule.matches(args):
                return rule if rule.required else None
        return Rule()

    def validate_args(self, args: Any) -> list[str]:
        if not isinstance(args, dict):
            return ["arguments must be an object"]
        validator = jsonschema.Draft202012Validator(self.parameters)
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
        return [
            f"{'/'.join(str(p) for p in e.path) or '(arguments)'}: {e.message}" for e in errors
        ]

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description or self.name,
                "parameters": self.parameters,
            },
        }


class Registry(_Model):
    tools: list[ToolSpec]
    source: str = ""

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        names = [t.name for t in self.tools]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate tool names: {', '.join(sorted(dupes))}")
        return self

    def get(self, name: str) -> ToolSpec | None:
        for tool in self.tools:
            if tool.name == name:
                return tool
        return None

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tools]


def bundled_tools_path() -> Path:
    return Path(str(resources.files("graph") / "examples" / "tools.yml"))


def load_registry(path: str | Path | None = None, *, platforms: frozenset[str] | None = None) -> Registry:
    """Load `path`, else ./tools.yml, else the bundled example. Raises ToolsFileError.

    `platforms`: the prefixes an approver id may carry (default `DEFAULT_PLATFORMS`)."""
    if path is None:
        path = Path("tools.yml") if Path("tools.yml").is_file() else bundled_tools_path()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ToolsFileError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ToolsFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tools"), list):
        raise ToolsFileError(f"{path}: expected a mapping with a 'tools' list")
    try:
        context = {"platforms": platforms} if platforms is not None else None
        return Registry.model_validate({"tools": raw["tools"], "source": str(path)}, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ToolsFileError(f"{path}: {where}: {first['msg']}") from None
