"""Tool registry from tools.yml: schemas, aliases, approval rules and run specs, as data.

Rule matching and argument validation are pure functions so the graph can call them before
`interrupt()` (they re-run on every resume and must have no side effects).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from graph.arguments import REFUSED, command_problem, display_problem, nul_problem, placeholders

# The rule and spec models live in graph.rules and graph.specs; they stay importable from here.
from graph.rules import DEFAULT_PLATFORMS as DEFAULT_PLATFORMS
from graph.rules import NOTIFY_TARGET as NOTIFY_TARGET
from graph.rules import QUALIFIED_ID as QUALIFIED_ID
from graph.rules import ConfigModel, Rule
from graph.rules import Escalation as Escalation
from graph.specs import McpServerSpec, PreviewSpec, RunSpec, WithEnv
from graph.specs import McpTarget as McpTarget
from graph.specs import McpToolOverride as McpToolOverride
from graph.specs import WebhookSpec as WebhookSpec
from graph.values import RESERVED_ENV as RESERVED_ENV  # importable from here, where it used to live
from graph.values import parse_duration as parse_duration


class ToolsFileError(ValueError):
    """tools.yml is unreadable or invalid; the message names the file and the place."""


class McpCaller(Protocol):
    """What executes an MCP tool: the process's connection to its server."""

    async def call_tool(self, server: str, tool: str, args: dict[str, Any], *, meta: dict[str, Any],
                        timeout: float) -> tuple[bool, str]: ...


class ToolSpec(WithEnv):
    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    aliases: list[str] = Field(default_factory=list)
    # No rule at all means every call needs a card: a forgotten rule must fail safe.
    approval: list[Rule] = Field(default_factory=lambda: [Rule()])
    # None: a rule only. The tool belongs to the user's own graph, which runs it once approved;
    # the entry says who may approve it (and how), like any other.
    run: RunSpec | None = None
    preview: PreviewSpec | None = None
    # `env:` (WithEnv): only command tools take it; the run also gets CLEARANCE_IDEMPOTENCY_KEY
    # and CLEARANCE_APPROVED_BY.
    allow_option_values: bool = False
    """A `command:` argument value that starts with `-` is refused before the card unless this is
    true, because the command could read it as an option (`--delete-everything`)."""
    _mcp_caller: McpCaller | None = PrivateAttr(default=None)

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

    @model_validator(mode="after")
    def _consistent(self) -> ToolSpec:
        """Names that point nowhere are configuration errors found at load, not at 3 a.m."""
        known = set(self.parameters.get("properties", {}))
        # A rule for a graph's tool may leave its schema to the graph: then its `when` and
        # `editable` names cannot be checked here.
        schemaless = self.run is None and "parameters" not in self.model_fields_set
        for name in placeholders(self.run.command or [] if self.run else []):
            if name not in known:
                raise ValueError(f"tool {self.name}: run.command placeholder {{{name}}} names no parameter "
                                 f"(parameters: {', '.join(sorted(known)) or 'none'})")
        for name in placeholders(self.preview.command or []) if self.preview else []:
            if name not in known:
                raise ValueError(f"tool {self.name}: preview.command placeholder {{{name}}} names no parameter")
        for name in [] if schemaless else placeholders(self.aliases):
            if name not in known:
                raise ValueError(f"tool {self.name}: alias placeholder {{{name}}} names no parameter "
                                 f"(parameters: {', '.join(sorted(known)) or 'none'})")
        for rule in [] if schemaless else self.approval:
            for key in rule.when:
                if key not in known:
                    raise ValueError(f"tool {self.name}: approval 'when' key {key!r} names no parameter")
            for key in rule.editable if isinstance(rule.editable, list) else []:
                if key not in known:
                    raise ValueError(f"tool {self.name}: approval 'editable' names no parameter: {key!r}")
        runs_command = self.run is not None and self.run.kind == "command"
        if self.env and not runs_command and (self.preview is None or self.preview.command is None):
            raise ValueError(f"tool {self.name}: env applies to command tools only")
        self.resolve_env(f"tool {self.name}")
        return self

    @property
    def mcp_caller(self) -> McpCaller | None:
        """The connection that runs this MCP tool (None for other kinds, or before it is attached)."""
        return self._mcp_caller

    def attach_mcp(self, caller: McpCaller) -> None:
        """Bind an MCP tool to the process's live connection. A private attribute, not a field:
        a connection is not configuration and never enters a snapshot or a comparison."""
        self._mcp_caller = caller

    def argument_defaults(self) -> dict[str, Any]:
        props = self.parameters.get("properties", {})
        return {k: p["default"] for k, p in props.items() if isinstance(p, dict) and "default" in p}

    def refusal(self, args: dict[str, Any]) -> str | None:
        """Why this (schema-valid) call must be refused before any card, as the sentence the
        model gets, or None. Pure. Every kind: no NUL anywhere, and the card can show every
        argument in full. Commands also: every placeholder has a value or a default, no value
        starts with `-` (unless allow_option_values), no character an argv cannot carry."""
        problem = nul_problem(args) or display_problem(args)
        if problem is None and self.run is not None and self.run.command is not None:
            problem = command_problem(self.run.command, args, self.argument_defaults(),
                                      allow_option_values=self.allow_option_values)
        return None if problem is None else REFUSED + problem

    def editable_names(self, rule: Rule) -> tuple[str, ...]:
        """The arguments `rule` lets an approver change, in schema order (`true`: all)."""
        if rule.editable is True:
            return tuple(self.parameters.get("properties", {}))
        return tuple(rule.editable) if isinstance(rule.editable, list) else ()

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


class Registry(ConfigModel):
    tools: list[ToolSpec]
    source: str = ""
    mcp_servers: list[McpServerSpec] = Field(default_factory=list)
    # The user's own agent (`package.module:attr`), when tools.yml names it.
    graph: str | None = None
    # The rules of a call a user's graph gated whose tool has no entry here.
    default_approval: list[Rule] | None = None

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        names = [t.name for t in self.tools]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate tool names: {', '.join(sorted(dupes))}")
        servers = [s.name for s in self.mcp_servers]
        dupes = {n for n in servers if servers.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate mcp server names: {', '.join(sorted(dupes))}")
        return self

    def with_tools(self, extra: list[ToolSpec]) -> Registry:
        """This registry plus `extra` (tools discovered at start). A name clash is a
        configuration error, raised as ToolsFileError."""
        taken = set(self.names)
        for spec in extra:
            if spec.name in taken:
                raise ToolsFileError(f"{self.source}: tool name {spec.name!r} is used twice "
                                     "(an MCP tool's name is <server>_<tool>)")
            taken.add(spec.name)
        return Registry.model_construct(tools=[*self.tools, *extra], source=self.source,
                                        mcp_servers=self.mcp_servers, graph=self.graph,
                                        default_approval=self.default_approval)

    def get(self, name: str) -> ToolSpec | None:
        for tool in self.tools:
            if tool.name == name:
                return tool
        return None

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tools]

    def rules_for(self, name: str) -> ToolSpec:
        """The entry of a tool a user's graph gated, or, with none, a rule-only entry holding
        `default_approval:` (else the default rule): what an edit of its call is checked
        against. Built without validation: the graph, not this file, named the tool."""
        return self.get(name) or ToolSpec.model_construct(
            name=name, description="", parameters={"type": "object", "properties": {}}, aliases=[],
            approval=list(self.default_approval or [Rule()]), run=None, preview=None, env={},
            allow_option_values=False)

    @property
    def rule_only(self) -> list[str]:
        """Tools with no `run:`: rules for a user's graph, which the bundled agent cannot run."""
        return [t.name for t in self.tools if t.run is None]

    def secret_values(self) -> frozenset[str]:
        """Values that must never leave the process: every webhook's signing secret (read now,
        as the executor reads it) and every `${VAR}` value a tool's `env:` copied. Literal
        `env:` values are configuration, not secrets. Empty values are left out."""
        found: set[str] = set()
        for server in self.mcp_servers:
            found |= server.copied_env_values
        for tool in self.tools:
            found |= tool.copied_env_values
            hook = tool.run.webhook if tool.run is not None else None
            if hook is not None and hook.secret_env:
                found.add(os.environ.get(hook.secret_env, ""))
        found.discard("")
        return frozenset(found)


def bundled_tools_path() -> Path:
    return Path(str(resources.files("graph") / "examples" / "tools.yml"))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's message spans several lines with a source excerpt; one line with the place."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"{problem}{where}".split())


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
        raise ToolsFileError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise ToolsFileError(f"{path}: too deeply nested") from None
    keys = ("tools", "mcp_servers", "graph", "default_approval")
    if not isinstance(raw, dict) or not any(raw.get(k) is not None for k in keys):
        raise ToolsFileError(f"{path}: expected a mapping with a 'tools' list, an 'mcp_servers' list, "
                             "or a 'graph' (your own agent)")
    try:
        context = {"platforms": platforms} if platforms is not None else None
        return Registry.model_validate({"tools": raw.get("tools") or [], "mcp_servers": raw.get("mcp_servers") or [],
                                        "graph": raw.get("graph"), "default_approval": raw.get("default_approval"),
                                        "source": str(path)}, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ToolsFileError(f"{path}: {where}: {str(first['msg']).removeprefix('Value error, ')}") from None
    except RecursionError:  # nested mappings deep enough for the validators or JSON Schema's check
        raise ToolsFileError(f"{path}: too deeply nested") from None
