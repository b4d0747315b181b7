"""A small MCP server for the tests, on the real SDK (FastMCP).

Tools: `git_status` (read-only), `deploy(service, version)`, `delete_branch(name)`; `deploy`
with version `broken` answers with an error result. Every start and every call (tool,
arguments, `_meta`) is appended as one JSON line to the file named by MCP_TEST_RECORD; the
start line also lists the server's environment (names only, and whether a token leaked).

    python tests/mcp/server.py                # stdio
    python tests/mcp/server.py --http PORT    # streamable HTTP on 127.0.0.1:PORT
"""

from __future__ import annotations

import json
import os
import sys

from mcp.server.fastmcp import Context, FastMCP

RECORD = os.environ.get("MCP_TEST_RECORD", "")
PORT = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--http" else 0
server = FastMCP("clearance-test", host="127.0.0.1", port=PORT or 8000)


def record(entry: dict) -> None:
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def called(ctx: Context, tool: str, arguments: dict) -> None:
    meta = ctx.request_context.meta
    record({"event": "call", "pid": os.getpid(), "tool": tool, "arguments": arguments,
            "meta": meta.model_dump(exclude_none=True) if meta is not None else None})


@server.tool()
def git_status(ctx: Context) -> str:
    """Show the working tree status (read-only)."""
    called(ctx, "git_status", {})
    return "On branch main\nnothing to commit, working tree clean"


@server.tool()
def deploy(service: str, version: str, ctx: Context) -> str:
    """Deploy a service version."""
    called(ctx, "deploy", {"service": service, "version": version})
    if version == "broken":
        raise ValueError(f"version {version} does not exist")
    return f"deployed {service} {version}"


@server.tool()
def delete_branch(name: str, ctx: Context) -> str:
    """Delete a git branch."""
    called(ctx, "delete_branch", {"name": name})
    return f"deleted branch {name}"


if __name__ == "__main__":
    record({"event": "start", "pid": os.getpid(), "env": sorted(os.environ),
            "token": os.environ.get("MCP_TEST_TOKEN", "")})
    server.run("streamable-http" if PORT else "stdio")
