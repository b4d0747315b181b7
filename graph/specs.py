"""How a tool runs and previews (`run:`, `preview:`), and the `mcp_servers:` entries of
tools.yml, as validated data."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from graph.rules import ConfigModel, Rule
from graph.values import copied_values, parse_duration, resolve_env


class WebhookSpec(ConfigModel):
    url: str
    secret_env: str | None = None
    retries: int = Field(default=2, ge=0, le=10)


class McpTarget(ConfigModel):
    """Which tool of which MCP server runs the call: set by the MCP manager, never by a tools file."""
    server: str
    tool: str


class WithEnv(ConfigModel):
    """An `env:` map, the extra environment of a command run (a tool's, a preview's) or of a
    stdio MCP server, beside the minimal one every process gets (PATH, HOME, LANG, LC_ALL, TZ
    when the bot has them). A value is either literal configuration (`KUBECONFIG:
    /etc/kube/prod`) or exactly `${VAR}`, which copies that one variable of the bot's
    environment when the tools file is loaded; an unset VAR is a configuration error then, not
    an empty value at run time. Copied values are secrets (redacted everywhere); literal
    values are not."""

    env: dict[str, str] = Field(default_factory=dict)
    _env_values: dict[str, str] = PrivateAttr(default_factory=dict)

    def resolve_env(self, owner: str) -> None:
        """Read every `${VAR}` now (`owner` names the entry in the error of an unset one)."""
        self._env_values = resolve_env(owner, self.env)

    @property
    def env_values(self) -> dict[str, str]:
        """`env:` with every `${VAR}` resolved (as it was when the file was loaded)."""
        return dict(self._env_values)

    @property
    def copied_env_values(self) -> frozenset[str]:
        """The values `env:` copied from the bot's environment: secrets, unlike literal values."""
        return copied_values(self.env, self._env_values)


class RunSpec(ConfigModel):
    command: list[str] | None = None
    webhook: WebhookSpec | None = None
    python: str | None = None
    external: bool = False
    mcp: McpTarget | None = None
    timeout: float = 60.0
    max_output: int = 4000

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("mcp")
    @classmethod
    def _internal(cls, value: McpTarget | None, info: ValidationInfo) -> McpTarget | None:
        # An MCP tool's schema and target come from its server; a tools file that could name
        # one by hand would skip the server's schema.
        if value is not None and not (isinstance(info.context, dict) and info.context.get("mcp")):
            raise ValueError("run.mcp is set by mcp_servers:, not written by hand")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> RunSpec:
        chosen = [
            k for k in ("command", "webhook", "python", "mcp") if getattr(self, k) is not None
        ] + (["external"] if self.external else [])
        if len(chosen) != 1:
            raise ValueError("run needs exactly one of: command, webhook, python, external")
        if self.command is not None and not self.command:
            raise ValueError("run.command must be a non-empty argv list")
        if self.python is not None and ":" not in self.python:
            raise ValueError("run.python must look like 'package.module:function'")
        return self

    @property
    def kind(self) -> Literal["command", "webhook", "python", "mcp", "external"]:
        if self.command is not None:
            return "command"
        if self.webhook is not None:
            return "webhook"
        if self.python is not None:
            return "python"
        if self.mcp is not None:
            return "mcp"
        return "external"


class PreviewSpec(ConfigModel):
    """What a call would do, shown on its card before anyone decides. Same forms as `run`
    (command or python) and side-effect free by the tool author's contract."""

    command: list[str] | None = None
    python: str | None = None
    timeout: float = 30.0
    max_output: int = 1500

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> PreviewSpec:
        if (self.command is None) == (self.python is None):
            raise ValueError("preview needs exactly one of: command, python")
        if self.command is not None and not self.command:
            raise ValueError("preview.command must be a non-empty argv list")
        if self.python is not None and ":" not in self.python:
            raise ValueError("preview.python must look like 'package.module:function'")
        return self


class McpToolOverride(ConfigModel):
    approval: list[Rule] | None = None
    aliases: list[str] = Field(default_factory=list)


class McpServerSpec(WithEnv):
    """One `mcp_servers:` entry. Its tools (and their schemas) are only known once the server
    answers, so the tools themselves are added to the registry at start (graph/mcp.py)."""
    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")
    command: list[str] | None = None
    url: str | None = Field(default=None, pattern=r"^https?://")
    include: list[str] | None = None
    # No rule means every tool of the server needs a card: fail safe, as for any tool.
    approval: list[Rule] = Field(default_factory=lambda: [Rule()])
    tools: dict[str, McpToolOverride] = Field(default_factory=dict)
    timeout: float = 60.0

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _consistent(self) -> McpServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"mcp server {self.name}: needs exactly one of command (stdio) or url (streamable HTTP)")
        if self.command is not None and not self.command:
            raise ValueError(f"mcp server {self.name}: command must be a non-empty argv list")
        if self.env and self.url is not None:
            raise ValueError(f"mcp server {self.name}: env applies to command servers only")
        self.resolve_env(f"mcp server {self.name}")
        return self
