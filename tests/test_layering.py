"""The dependency rules, read from the imports: bot → adapters, bot → graph; adapters and graph
are leaves; no import circle inside bot/ (not even one hidden under TYPE_CHECKING or inside a
function); no module reaches into another module's private names; the platform SDKs stay in
bot/platforms; parse and render modules do no I/O. Each rule's checker is itself checked
against a case it must catch, so a checker that parses nothing cannot pass."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "graph", "adapters")
PLATFORM_SDKS = {"slack_sdk", "slack_bolt", "microsoft_agents", "msal"}
# Modules that reach the network, a process, a database or an event loop. slack_sdk's Block Kit
# models are pure (they validate Slack's limits), its clients are not.
IO_MODULES = ("aiohttp", "asyncio", "socket", "httpx", "requests", "subprocess", "psycopg", "aiosqlite",
              "sqlite3", "slack_bolt", "microsoft_agents", "urllib.request", "slack_sdk.web",
              "slack_sdk.socket_mode", "slack_sdk.webhook", "slack_sdk.oauth")


def _does_io(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in IO_MODULES)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py")) if "node_modules" not in p.parts]


def _import_nodes(path: Path) -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _imports(package: str) -> list[tuple[str, str]]:
    """(file, imported module) for every absolute import anywhere in the file."""
    found = []
    for path in _sources(package):
        for node in _import_nodes(path):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_graph_imports_neither_bot_nor_adapters() -> None:
    bad = [(f, m) for f, m in _imports("graph") if _top(m) in ("bot", "adapters")]
    assert bad == []


def test_adapters_import_neither_bot_graph_nor_langchain() -> None:
    forbidden = {"bot", "graph", "langgraph", "langchain", "langchain_core", "langchain_openai"}
    bad = [(f, m) for f, m in _imports("adapters") if _top(m) in forbidden]
    assert bad == []


def test_the_checker_sees_imports() -> None:
    """Guard against a checker that passes because it parses nothing."""
    assert any(_top(m) == "graph" for _, m in _imports("bot"))
    assert any(_top(m) == "adapters" for _, m in _imports("bot"))
    assert any(_top(m) == "langgraph" for _, m in _imports("graph"))


# -- no import circles inside bot/ -----------------------------------------------------------


def _bot_graph() -> dict[str, set[str]]:
    """Module → the bot modules it imports (`from bot.x import y` names bot.x.y when y is a
    module), wherever the import stands: top level, TYPE_CHECKING block or function body."""
    modules = {_module_name(p): p for p in _sources("bot")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in _import_nodes(path):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            edges[name] |= {t for t in targets if t in modules and t != name}
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_inside_bot() -> None:
    assert _circles(_bot_graph()) == []


def test_the_circle_finder_finds_circles() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []
    graph = _bot_graph()
    assert "bot.flow.service" in graph["bot.runtime"], "the graph sees imports between bot modules"


# -- no private names across modules ----------------------------------------------------------


def _private_imports_in(path: Path) -> list[str]:
    return [f"{node.module}.{a.name}" for node in _import_nodes(path)
            if isinstance(node, ast.ImportFrom) and node.module and _top(node.module) in PACKAGES
            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]


def _private_imports(*packages: str) -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), m) for p in _sources(*packages) for m in _private_imports_in(p)]


def test_no_module_imports_another_modules_private_names() -> None:
    assert _private_imports("bot", "graph", "adapters", "tests", "bench") == []


def test_the_private_checker_sees_private_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from bot.ledger.rows import _row, row_of\nfrom os import _exit\n"
                      "def f():\n    from graph.executors import _hidden\n")
    assert _private_imports_in(sample) == ["bot.ledger.rows._row", "graph.executors._hidden"]


# -- platform SDKs and pure modules -----------------------------------------------------------


def test_platform_sdks_are_imported_only_in_bot_platforms() -> None:
    bad = [(f, m) for f, m in _imports("bot") if _top(m) in PLATFORM_SDKS and not f.startswith("bot/platforms/")]
    assert bad == []
    assert any(_top(m) in PLATFORM_SDKS for f, m in _imports("bot") if f.startswith("bot/platforms/"))


def test_parse_and_render_modules_do_no_io() -> None:
    # The forms' own modules (edits, replies in the tool's place) are pure too.
    pure = [p for p in _sources("adapters") if p.stem in ("parse", "render", "views", "edit", "reply")]
    assert len(pure) >= 10, "every platform has a parse and a render module; Slack and Teams their forms'"
    bad = []
    for path in pure:
        for node in _import_nodes(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            bad += [(str(path.relative_to(ROOT)), n) for n in names if _does_io(n)]
    assert bad == []
    assert _does_io("slack_sdk.web.async_client") and not _does_io("slack_sdk.models.blocks")


def test_the_approval_rules_do_no_io() -> None:
    """bot/approvals is pure: the policy, the card view and the record are functions of their
    inputs, tested without a database or a network."""
    bad = [(f, m) for f, m in _imports("bot") if f.startswith("bot/approvals/")
           and (_does_io(m) or m.startswith(("bot.ledger", "bot.flow", "bot.http", "bot.platforms")))]
    assert bad == []
