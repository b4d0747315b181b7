"""Your own agent behind the chats: `package.module:attr`, imported from the working directory
and the extra paths given, and run on Clearance's checkpointer.

`attr` may be a `StateGraph` builder (compiled here with the checkpointer), a compiled graph
(a tutorial's `create_agent(...)`, whatever checkpointer it was built with: it runs with
Clearance's instead, so pending runs survive restarts and replicas), or a callable, sync or
async, taking `checkpointer=` and returning a compiled graph. Anything else, or a module that
does not import, is one `GraphLoadError` line saying why.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any, Literal, Sequence

Kind = Literal["builder", "compiled", "factory"]
KIND_TEXT = {"builder": "a StateGraph builder", "compiled": "a compiled graph",
             "factory": "a callable taking checkpointer="}


class GraphLoadError(ValueError):
    """The target cannot be imported or is not a graph; one line, naming the cause."""


@dataclass(frozen=True)
class UserGraph:
    target: str
    kind: Kind
    obj: Any

    def describe(self) -> str:
        return f"{self.target} ({KIND_TEXT[self.kind]})"

    async def compile(self, checkpointer: Any) -> Any:
        """The graph, running on `checkpointer`."""
        from langgraph.pregel import Pregel

        if self.kind == "builder":
            return self.obj.compile(checkpointer=checkpointer)
        if self.kind == "compiled":
            return self.obj.copy(update={"checkpointer": checkpointer})
        made = self.obj(checkpointer=checkpointer)
        if inspect.isawaitable(made):
            made = await made
        if not isinstance(made, Pregel):
            raise GraphLoadError(f"{self.target}(checkpointer=…) returned {type(made).__name__}, not a compiled graph")
        return made


def _kind(obj: Any) -> Kind | None:
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    if isinstance(obj, StateGraph):
        return "builder"
    if isinstance(obj, Pregel):
        return "compiled"
    if callable(obj):
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            return None
        takes = "checkpointer" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        return "factory" if takes else None
    return None


def load_user_graph(target: str, paths: Sequence[str] = ()) -> UserGraph:
    """Import `package.module:attr` (from the working directory and `paths`) and say what it is."""
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise GraphLoadError(f"{target!r} must look like package.module:attr")
    for path in [*reversed(list(paths)), os.getcwd()]:
        if path and path not in sys.path:
            sys.path.insert(0, path)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: whatever it raises is the cause to report
        raise GraphLoadError(f"cannot import {module_name} ({type(exc).__name__}: {_first_line(exc)})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GraphLoadError(f"{module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    kind = _kind(obj)
    if kind is None:
        raise GraphLoadError(f"{target} is a {type(obj).__name__}, not a StateGraph builder, a compiled graph "
                             "or a callable taking checkpointer=")
    return UserGraph(target, kind, obj)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"
