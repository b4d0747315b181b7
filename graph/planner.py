"""The alias planner: a deterministic chat model used when no LLM is configured.

Each line and each `and`-separated clause of the last human message is matched against the
tools' aliases; every match becomes a tool call in ONE AIMessage, so several clauses fan out
in parallel. After tool results it answers with a short summary.

Planning runs on the event loop, so it must stay cheap whatever a person pastes: whitespace is
normalised by `str.split` (linear) before any regex sees the text, clauses are split on
whole words without a regex, and a clause longer than MAX_CLAUSE_CHARS is not matched at all
(no command is that long; it bounds the cost of an oddly written alias).
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Sequence

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from graph.contract import OUTCOME_AUTHOR
from graph.tools import Registry, ToolSpec

_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
# Applied to a whitespace-normalised line only, where `\s` matches single spaces: linear.
_MENTION = re.compile(r"^(<@[^>]+>|<at>[^<]*</at>|@\S+) ?[:,]? ?")
_CONNECTIVES = frozenset({"and", "then", "&"})
MAX_CLAUSE_CHARS = 1024


def _normalise(text: str) -> str:
    """Every run of whitespace (any Unicode space) becomes one space; linear, no regex."""
    return " ".join(text.split())


def _clauses(line: str) -> list[str]:
    """Split a normalised line on ';' and on the whole words and/then/&."""
    out: list[str] = []
    for part in line.split(";"):
        words: list[str] = []
        for word in part.split():
            if word.lower() in _CONNECTIVES:
                if words:
                    out.append(" ".join(words))
                words = []
            else:
                words.append(word)
        if words:
            out.append(" ".join(words))
    return out


def _compile(alias: str, *, rest: frozenset[str] = frozenset()) -> tuple[re.Pattern[str], list[str]]:
    """An alias as an anchored pattern; each placeholder is one word, except a last one that
    ends the alias and is named in `rest`: it takes the rest of the clause (free text)."""
    names: list[str] = []
    out = []
    pos = 0
    found = list(_PLACEHOLDER.finditer(alias))
    for match in found:
        out.append(r"\s+".join(re.escape(w) for w in alias[pos : match.start()].split(" ")))
        names.append(match.group(1))
        takes_rest = match is found[-1] and not alias[match.end():].strip() and match.group(1) in rest
        out.append(rf"(?P<{match.group(1)}>\S(?:.*?\S)?)" if takes_rest else rf"(?P<{match.group(1)}>\S+)")
        pos = match.end()
    out.append(r"\s+".join(re.escape(w) for w in alias[pos:].split(" ")))
    return re.compile("^" + "".join(out) + r"[.!]?$", re.IGNORECASE), names


def _free_text(spec: ToolSpec) -> frozenset[str]:
    """Parameters that may hold several words: strings without an enum or a pattern."""
    props = spec.parameters.get("properties", {})
    return frozenset(name for name, prop in props.items() if isinstance(prop, dict)
                     and prop.get("type", "string") == "string" and "enum" not in prop and "pattern" not in prop)


def _coerce(spec: ToolSpec, key: str, raw: str) -> Any:
    prop = spec.parameters.get("properties", {}).get(key, {})
    kind = prop.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return raw.lower() in ("true", "yes", "on", "1")
    except ValueError:
        return raw  # the schema check reports it to the model and the person
    enum = prop.get("enum")
    if isinstance(enum, list):
        for option in enum:
            if isinstance(option, str) and option.lower() == raw.lower():
                return option
    return raw


class AliasMatcher:
    def __init__(self, registry: Registry) -> None:
        self._patterns = [
            (spec, *_compile(alias)) for spec in registry.tools for alias in spec.aliases
        ]
        # Per clause, a last free-text placeholder takes the rest of it ("note {text}"); a
        # whole line is matched one word per placeholder, so "and" still splits commands.
        self._clause_patterns = [
            (spec, *_compile(alias, rest=_free_text(spec))) for spec in registry.tools for alias in spec.aliases
        ]
        self.examples = [alias for spec in registry.tools for alias in spec.aliases]

    def match_clause(self, clause: str, *, whole_line: bool = False) -> tuple[str, dict[str, Any]] | None:
        clause = _normalise(clause)
        if not clause or len(clause) > MAX_CLAUSE_CHARS:
            return None
        for spec, pattern, names in self._patterns if whole_line else self._clause_patterns:
            found = pattern.match(clause)
            if found:
                return spec.name, {n: _coerce(spec, n, found.group(n)) for n in names}
        return None

    def plan(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        return self.plan_all(text)[0]

    def plan_all(self, text: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
        """The tool calls, and the clauses that matched no alias (to be said, not dropped)."""
        calls = []
        missed: list[str] = []
        for line in text.splitlines():
            line = _MENTION.sub("", _normalise(line), count=1).strip()
            if not line:
                continue
            whole = self.match_clause(line, whole_line=True)
            if whole:
                calls.append(whole)
                continue
            for clause in _clauses(line):
                hit = self.match_clause(clause)
                if hit:
                    calls.append(hit)
                else:
                    missed.append(clause)
        return calls, missed


def summarize(results: list[ToolMessage], calls: dict[str, str]) -> str:
    lines = []
    for msg in results:
        name = calls.get(msg.tool_call_id, msg.name or "tool")
        body = str(msg.content).strip()
        if msg.status == "error":
            lines.append(f"{name}: not done. {body}")
        else:
            lines.append(f"{name}: done. {body}")
    return "\n".join(lines) if lines else "Nothing to do."


class AliasPlanner(BaseChatModel):
    """A chat model that plans tool calls from aliases; `bind_tools` returns itself."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    registry: Registry
    _matcher: AliasMatcher = PrivateAttr()

    def model_post_init(self, __context: Any) -> None:
        self._matcher = AliasMatcher(self.registry)

    @property
    def _llm_type(self) -> str:
        return "clearance-alias-planner"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> AliasPlanner:
        return self

    def _answer(self, messages: list[BaseMessage]) -> AIMessage:
        trailing: list[ToolMessage] = []
        for msg in reversed(messages):
            if isinstance(msg, ToolMessage):
                trailing.append(msg)
            else:
                break
        if trailing:
            calls: dict[str, str] = {}
            for msg in messages:
                if isinstance(msg, AIMessage):
                    calls.update({tc_id: tc["name"] for tc in msg.tool_calls if (tc_id := tc.get("id"))})
            return AIMessage(content=summarize(list(reversed(trailing)), calls))
        human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        text = str(human.content) if human else ""
        if human is not None and human.name == OUTCOME_AUTHOR:
            return AIMessage(content=text)  # a card's outcome, reported back: it is the answer
        planned, missed = self._matcher.plan_all(text)
        if not planned:
            known = "\n".join(f"• {e}" for e in self._matcher.examples)
            return AIMessage(content=f"I did not understand that. I know these commands:\n{known}")
        return AIMessage(
            # Said alongside the calls: a clause silently dropped looks like one that ran.
            content=f"I did not understand: {'; '.join(missed)}" if missed else "",
            tool_calls=[
                {"name": name, "args": args, "id": f"call_{secrets.token_hex(8)}", "type": "tool_call"}
                for name, args in planned
            ],
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop)
