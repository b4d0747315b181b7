"""What a tool call's arguments may be before anyone is asked to approve them.

Two guarantees live here, both pure functions of (template, arguments):

- Substitution: `{name}` placeholders are replaced in ONE left-to-right pass over each argv
  element, so a value that itself contains `{other}` is never substituted again. The argv
  executed is exactly the template with each placeholder replaced once by its value.
- Display: a card must show every argument in full, so a call whose arguments exceed the card
  limits is refused before the card rather than shown truncated and then executed in full.
  The limits are the ones the platform renderers are built for; change them only together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# The card limits: a call beyond them is refused before any card is posted.
MAX_ARGUMENTS = 20
MAX_VALUE_CHARS = 1000  # one value, as json.dumps(value, ensure_ascii=False)
MAX_TOTAL_CHARS = 4000  # every name plus every value (as JSON), added up

REFUSED = "Refused before approval, nothing was executed: "


class MissingArgument(ValueError):
    """A placeholder has neither a value nor a schema default."""

    def __init__(self, name: str) -> None:
        super().__init__(f"missing argument {name}")
        self.name = name


def placeholders(template: Iterable[str]) -> list[str]:
    """The placeholder names of an argv template, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for element in template:
        for match in PLACEHOLDER.finditer(element):
            seen.setdefault(match.group(1), None)
    return list(seen)


def argument_text(value: Any) -> str:
    """How one value appears in an argv element: strings as they are, null as nothing,
    anything else as compact JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _value_for(name: str, args: Mapping[str, Any], defaults: Mapping[str, Any]) -> Any:
    if name in args:
        return args[name]
    if name in defaults:
        return defaults[name]
    raise MissingArgument(name)


def substitute(argv: Iterable[str], args: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> list[str]:
    """Per-element, single-pass substitution; values are never split, shell-parsed or rescanned.
    A placeholder with neither a value nor a default raises MissingArgument (the refusal check
    turns it away before the card; this is the last line of defence)."""
    fallback = defaults or {}
    return [
        PLACEHOLDER.sub(lambda m: argument_text(_value_for(m.group(1), args, fallback)), element)
        for element in argv
    ]


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value, keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                stack.append(key)
                stack.append(inner)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def nul_problem(args: Mapping[str, Any]) -> str | None:
    """NUL cannot reach an argv, and receivers of JSON treat it inconsistently: refused for
    every kind of tool."""
    for name, value in args.items():
        if any("\x00" in s for s in _strings({name: value})):
            return f"argument {name} contains a NUL character"
    return None


def display_problem(args: Mapping[str, Any]) -> str | None:
    """Why these arguments cannot be shown in full on a card, or None if they can."""
    if len(args) > MAX_ARGUMENTS:
        return f"too many arguments to show on the approval card ({len(args)}, at most {MAX_ARGUMENTS})"
    total = 0
    for name, value in args.items():
        try:
            shown = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return f"argument {name} cannot be shown on the approval card (not JSON)"
        if len(shown) > MAX_VALUE_CHARS:
            return (f"argument {name} is too long to show on the approval card "
                    f"({len(shown)} characters, at most {MAX_VALUE_CHARS})")
        total += len(str(name)) + len(shown)
    if total > MAX_TOTAL_CHARS:
        return (f"the arguments are too long to show on the approval card "
                f"({total} characters in all, at most {MAX_TOTAL_CHARS})")
    return None


def _unencodable(text: str) -> str | None:
    """A character the OS cannot put in an argv: NUL ends a C string, and a lone surrogate has
    no UTF-8 encoding (Python would fail at exec or smuggle raw bytes through)."""
    for char in text:
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            return f"U+{ord(char):04X}"
    return None


def command_problem(
    template: Iterable[str], args: Mapping[str, Any], defaults: Mapping[str, Any], *, allow_option_values: bool
) -> str | None:
    """Why this call cannot be substituted into its argv template safely, or None.

    Only values the template actually uses are checked. Defaults are the operator's own
    configuration and are not held to the leading-dash rule.
    """
    for name in placeholders(template):
        if name not in args:
            if name not in defaults:
                return f"missing argument {name}"
            continue
        text = argument_text(args[name])
        bad = _unencodable(text)
        if bad:
            return f"argument {name} contains a character that cannot be passed to a command ({bad})"
        if text.startswith("-") and not allow_option_values:
            return (f"argument {name} starts with '-' and could be read as an option "
                    "(the tool does not set allow_option_values)")
    return None
