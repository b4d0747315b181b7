"""DESIGN section 3: bot → adapters, bot → graph; adapters and graph are leaves."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
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
