"""`clearance serve | console | pending | audit | check`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import logging
import os
import re
import signal
import sys
from typing import Any, Sequence

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.models import iso
from graph.redact import Redactor

# `pending` and `audit` open the ledger alone: the graph stack, the model clients and the chat
# platforms are imported inside the commands that use them (seconds of imports otherwise).

log = logging.getLogger("clearance")


class _SecretFilter(logging.Filter):
    """Every configured secret value, and anything shaped like a token, is redacted from
    each log line, tracebacks included."""

    PATTERN = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|sk-[A-Za-z0-9_-]{8,}|Bearer\s+\S+)")

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def _clean(self, text: str) -> str:
        return self.PATTERN.sub("[redacted]", self.redactor.text(text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def setup_logging(level: str, redactor: Redactor | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_SecretFilter(redactor or Redactor(())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("httpx", "aiohttp.access", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _parse_since(text: str) -> float:
    from graph.tools import parse_duration

    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return dt.datetime.now().timestamp() - parse_duration(text)
    except ValueError:
        raise ConfigError(f"--since: expected 30m, 2h, 7d or an ISO date, got {text!r}") from None


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.platforms import attach_platforms
    from bot.runtime import open_runtime
    from bot.server import build_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings) as runtime:
        app = build_app(runtime)
        await attach_platforms(app, runtime)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"PORT: cannot listen on {settings.host}:{settings.port} ({exc.strerror})") from None
        log.info("clearance listening on %s:%s (database: %s)", settings.host, settings.port, runtime.db.dialect)
        try:
            await stop.wait()
            # A stop (deploy, scale-in) lets running decisions and executions finish; anything
            # cut short is picked up by the sweeper of the next process.
            log.info("stopping: finishing work in progress")
        finally:
            await runner.cleanup()
    return 0


async def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.console import ConsoleAdapter, run_console
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        service = runtime.service
        adapter = ConsoleAdapter()
        service.add_adapter(adapter)
        # Recover what a killed session left behind (expired cards, unfinished resumes).
        await service.sweep()
        await service.drain()
        thread = f"console:{args.session}"
        await run_console(
            adapter,
            session=args.session,
            user=args.user,
            on_message=service.on_message,
            on_decision=service.on_decision,
            pending=lambda: service.pending_cards(thread),
            settle=service.drain,
        )
    return 0


async def cmd_pending(settings: Settings, args: argparse.Namespace) -> int:
    from bot.store import open_ledger

    shown = 0
    async with open_ledger(settings) as ledger:
        # Page by page to the end: a long queue is printed in full, never cut at a page size.
        after: tuple[float, str] | None = None
        more = True
        while more:
            approvals, more = await ledger.page(status=["pending"], after=after, limit=2000)
            lines = []  # one write a page: a print a row costs more than the rows themselves
            for a in approvals:
                if args.json:
                    lines.append(json.dumps(a.to_public()))
                else:
                    args_text = json.dumps(a.args)
                    lines.append(f"{a.id}  {a.tool} {args_text}  by {a.requester.qualified}  "
                                 f"thread {a.thread_id}  expires {iso(a.expires_at) or 'never'}")
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
            shown += len(approvals)
            if approvals:
                after = (approvals[-1].created_at, approvals[-1].id)
    if not shown and not args.json:
        print("No pending approvals.")
    return 0


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    since = _parse_since(args.since) if args.since else 0.0
    from bot.store import open_ledger

    async with open_ledger(settings) as ledger:
        rows = await ledger.audit_trail(since=since)
    for row in rows:
        if args.json:
            print(json.dumps({**row, "at": iso(row["at"])}, default=str))
        else:
            detail = json.dumps(row["detail"], default=str)
            print(f"{iso(row['at'])}  {row['event']:<10} {row['approval_id'] or '-'}  "
                  f"{row['actor'] or '-'}  {detail}")
    return 0


async def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.platforms import PLATFORMS, approver_forms, enabled_platforms
    from bot.runtime import load_tools, open_runtime, settings_dict
    from graph.llm import llm_configured

    registry = load_tools(settings)
    print(f"tools: {len(registry.tools)} from {registry.source}")
    for tool in registry.tools:
        rules = " | ".join(r.describe() for r in tool.approval)
        print(f"  {tool.name:<10} run={tool.run.kind:<8} {rules}")
    db = "PostgreSQL" if settings.database_url.startswith("postgres") else "SQLite"
    print(f"database: {db}")
    for platform in PLATFORMS:
        how = platform.describe(settings) if platform.enabled(settings) else f"off ({platform.off_reason})"
        print(f"{platform.name}: {how}")
    names = [p.name for p in enabled_platforms(settings)]
    print(f"chat platforms enabled: {', '.join(names) or 'none (the approvals API and console still work)'}")
    print(f"approver ids: *, {', '.join(approver_forms())}")
    llm = "alias planner (no LLM configured)"
    if settings.azure_openai_endpoint:
        llm = f"Azure OpenAI deployment {settings.azure_openai_deployment}"
    elif llm_configured(settings_dict(settings)):
        llm = f"OpenAI-compatible, model {settings.model or 'default'}"
    print(f"llm: {llm}")
    print(f"approvals api: {'on' if settings.api_enabled else 'off'}")
    async with open_runtime(settings) as runtime:
        await runtime.db.ping()
    print("database reachable: yes")
    return 0


async def cmd_teams_package(settings: Settings, args: argparse.Namespace) -> int:
    from bot.platforms.teams_package import write_package

    path = write_package(args.app_id, args.domain, args.out)
    print(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clearance", description="In-chat approvals for AI agents' actions.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="HTTP server: Slack, Teams, health, approvals API")
    console = sub.add_parser("console", help="chat with the agent in the terminal (embedded default)")
    console.add_argument("--session", default="default", help="conversation to continue (default: default)")
    console.add_argument("--user", default=_login(), help="who you are (default: your login name)")
    pending = sub.add_parser("pending", help="list pending approvals")
    pending.add_argument("--json", action="store_true", help="JSON lines")
    audit = sub.add_parser("audit", help="show the audit trail")
    audit.add_argument("--json", action="store_true", help="JSON lines")
    audit.add_argument("--since", help="only entries newer than this (30m, 2h, 7d, or an ISO date)")
    sub.add_parser("check", help="validate configuration and the tools file")
    package = sub.add_parser("teams-package", help="write the Teams app package (manifest.json and icons)")
    package.add_argument("--app-id", required=True, help="the Azure Bot's Microsoft App ID (TEAMS_APP_ID)")
    package.add_argument("--domain", required=True, help="public host name of the bot, e.g. clearance.example.com")
    package.add_argument("--out", default="clearance-teams.zip", help="zip to write (default: clearance-teams.zip)")
    return parser


def _login() -> str:
    try:
        name = getpass.getuser()
    except Exception:
        name = os.environ.get("USER", "me")
    return re.sub(r"[^A-Za-z0-9._@-]", "_", name) or "me"


COMMANDS: dict[str, Any] = {
    "serve": cmd_serve, "console": cmd_console, "pending": cmd_pending,
    "audit": cmd_audit, "check": cmd_check, "teams-package": cmd_teams_package,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        secrets = settings.secret_values()
        if args.command in ("serve", "console", "check"):
            from bot.runtime import load_tools

            secrets |= load_tools(settings).secret_values()
        setup_logging(settings.log_level, Redactor(secrets))
        return asyncio.run(COMMANDS[args.command](settings, args))
    except ConfigError as exc:
        print(f"clearance: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `clearance audit | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
