"""`clearance serve | console | pending | audit | check | run | teams-package`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any, Sequence

from bot.errors import ConfigError

if TYPE_CHECKING:
    from adapters.base import ApprovalCard
    from bot.config import Settings

# Each command imports what it uses, inside it: `pending` (without --for) reads DATABASE_URL
# alone and lists rows without the settings machinery, the models, the graph stack, the model
# clients or the chat platforms, and `audit` opens the ledger alone.

log = logging.getLogger("clearance")
INTERRUPTED = ("Outcome unknown: the console was interrupted (Ctrl-C) while this call ran. "
               "Check the system before retrying.")


def _parse_since(text: str) -> float:
    from graph.values import parse_duration

    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return dt.datetime.now().timestamp() - parse_duration(text)
    except ValueError:
        raise ConfigError(f"--since: expected 30m, 2h, 7d or an ISO date, got {text!r}") from None


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The port is taken before anything else starts, so a port in use is one line and
    # nothing (database, sweeper, platforms) is left half started; a start that fails after
    # it gives the port back at once.
    sock = _listen(settings.host, settings.port)
    try:
        return await _serve_on(sock, settings, args, stop)
    finally:
        sock.close()


async def _serve_on(sock: socket.socket, settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> int:
    from aiohttp import web

    from bot.http.server import build_app, freeze_heap
    from bot.platforms import attach_platforms
    from bot.runtime import open_runtime

    async with open_runtime(settings, registry=args.registry) as runtime:
        app = build_app(runtime)
        await attach_platforms(app, runtime.settings, runtime.service)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        freeze_heap()
        site = web.SockSite(runner, sock)
        await site.start()
        log.info("clearance listening on %s:%s (database: %s)", settings.host, settings.port, runtime.db.dialect)
        try:
            await stop.wait()
            # A stop (deploy, scale-in) lets running decisions and executions finish, for up
            # to the grace period; anything cut short is picked up by the sweeper of the next
            # process (a call whose lease lapses is reported as outcome unknown, never rerun).
            log.info("stopping: finishing work in progress (up to %gs)", settings.shutdown_grace)
        finally:
            finished = await _finish(runner, runtime.service, settings.shutdown_grace)
        if not finished:
            log.warning("stopping: work still running after %gs; exiting without it", settings.shutdown_grace)
            raise _GraceOver
    return 0


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"HOST: cannot resolve {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise ConfigError(f"PORT: cannot listen on {host}:{port} ({reason})") from None
    sock.setblocking(False)
    return sock


class _GraceOver(Exception):
    """Leave `open_runtime` at once: its orderly exit would wait for the unfinished work."""


async def _finish(runner: Any, service: Any, grace: float) -> bool:
    """Stop taking requests, then let in-flight work end; False when the grace ran out."""
    async def close() -> None:
        await runner.cleanup()  # stops the listener, the sweeper, and drains the platforms
        await service.drain()

    task = asyncio.ensure_future(close())
    done, _ = await asyncio.wait({task}, timeout=grace)
    return bool(done)


async def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.console import ConsoleAdapter, Ended, run_console
    from bot.approvals.models import ResultStatus, Status
    from bot.runtime import open_runtime

    thread = f"console:{args.session}"
    interrupt = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupt.set)
    async with open_runtime(settings, registry=args.registry) as runtime:
        service, ledger = runtime.service, runtime.ledger
        adapter = ConsoleAdapter(thread_id=thread)
        service.add_adapter(adapter)
        cut_off = [a for a in await ledger.approvals(status=[Status.FAILED], thread_id=thread)
                   if a.result_status is ResultStatus.UNKNOWN and a.resumed_at is None]
        if cut_off:
            calls = ", ".join(f"[{a.seq}] {a.tool} ({a.id})" for a in cut_off)
            print(f"Interrupted last time, outcome unknown (check the system before retrying): {calls}")
        # Recover what a killed session left behind (expired cards, unfinished resumes).
        await service.sweep()
        await service.drain()
        running_before = {a.id for a in await ledger.approvals(status=[Status.EXECUTING], thread_id=thread)}

        async def find(ref: str) -> ApprovalCard | None:
            for approval in await ledger.approvals(thread_id=thread, limit=100000):
                if ref in (approval.id, str(approval.seq)):
                    return service.card(approval)
            return None

        ended = await run_console(
            adapter,
            session=args.session,
            user=args.user,
            on_message=service.on_message,
            on_decision=service.on_decision,
            pending=lambda: service.pending_cards(thread),
            settle=service.drain,
            find=find,
            interrupt=interrupt,
        )
        if ended is Ended.EOF:
            return 0
        if ended is Ended.IN_COMMAND:
            # The calls this session started die with it: say so now, and record it, so the
            # next start explains them instead of a sweeper reporting them much later.
            lost = []
            for approval in await ledger.approvals(status=[Status.EXECUTING], thread_id=thread):
                if approval.id not in running_before and await ledger.finish(
                        approval.id, ok=False, result=INTERRUPTED, unknown=True,
                        detail={"outcome_unknown": True, "interrupted": True}) is not None:
                    lost.append(f"[{approval.seq}] {approval.tool}")
            what = f"; outcome unknown: {', '.join(lost)}" if lost else ""
            print(f"\nInterrupted{what}. Pending cards are kept.", flush=True)
        else:
            print("\nInterrupted. Pending cards are kept.", flush=True)
    return 130


async def cmd_pending(settings: Settings, args: argparse.Namespace) -> int:
    if not args.approver:
        return await _list_pending(settings.database_url, args.json)
    # Who may decide needs the rules' group lookups: the whole runtime.
    from bot.approvals.ids import actor_of
    from bot.ledger.listing import table_line
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        actor = actor_of(args.approver)
        shown = 0
        after: tuple[float, str] | None = None
        more = True
        while more:  # page by page to the end: a long queue is printed in full
            approvals, more = await runtime.ledger.page(status=["pending"], after=after, limit=2000)
            if approvals:
                after = (approvals[-1].created_at, approvals[-1].id)
            # Past its expiry is expired, whether or not a server has swept it yet.
            now = dt.datetime.now().timestamp()
            mine = await runtime.service.router.decidable_by(
                actor, [a for a in approvals if a.expires_at is None or a.expires_at > now])
            lines = [json.dumps(a.to_public()) if args.json else
                     table_line(a.id, a.tool, json.dumps(a.args), a.requester.qualified, a.thread_id, a.expires_at)
                     for a in mine]
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
            shown += len(lines)
    if not shown and not args.json:
        print("No pending approvals.")
    return 0


async def _list_pending(url: str, as_json: bool) -> int:
    from bot.ledger.listing import print_pending
    from bot.ledger.store import open_database

    async with open_database(url) as db:
        shown = await print_pending(db, sys.stdout, as_json)
    if not shown and not as_json:
        print("No pending approvals.")
    return 0


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.approvals.times import iso
    from bot.ledger.store import open_ledger

    since = _parse_since(args.since) if args.since else 0.0
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


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """Start a run in a channel, as `POST /api/runs` does, with this shell's user as the
    requester (`console:<login>`); wait until the run has posted its cards and answers."""
    from aiohttp import web

    from adapters.base import Actor
    from bot.flow.outside import StartRefused
    from bot.http.server import build_app
    from bot.platforms import attach_platforms
    from bot.runtime import open_runtime

    async with open_runtime(settings, registry=args.registry) as runtime:
        app = build_app(runtime, sweep=False)
        await attach_platforms(app, runtime.settings, runtime.service)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()  # the platforms' clients start; nothing listens
        try:
            actor = Actor("console", args.by, args.by)
            try:
                started = await runtime.service.outside.start(args.post_to, args.text, actor, args.idempotency_key)
            except StartRefused as exc:
                print(f"clearance: {exc}", file=sys.stderr)
                return 2
            await runtime.service.drain()
        finally:
            await runner.cleanup()
    print(json.dumps({"thread_id": started.thread_id, "link": started.link}) if args.json else
          f"started {started.thread_id}" + (f" {started.link}" if started.link else "")
          + ("" if started.created else " (started before with this key)"))
    return 0


async def cmd_teams_package(settings: Settings, args: argparse.Namespace) -> int:
    from bot.platforms.teams_package import write_package

    path = write_package(args.app_id, args.domain, args.out)
    print(f"wrote {path}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clearance", description="In-chat approvals for AI agents' actions.")
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.set_defaults(registry=None)  # the tools file, once `main` has read it
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="HTTP server: Slack, Teams, health, approvals API")
    console = sub.add_parser("console", help="chat with the agent in the terminal (embedded default)")
    console.add_argument("--session", default="default", help="conversation to continue (default: default)")
    console.add_argument("--user", default=_login(), help="who you are (default: your login name)")
    pending = sub.add_parser("pending", help="list pending approvals")
    pending.add_argument("--json", action="store_true", help="JSON lines")
    pending.add_argument("--for", dest="approver", metavar="QUALIFIED_ID",
                         help="only what this approver may decide now, e.g. slack:U012ABC")
    audit = sub.add_parser("audit", help="show the audit trail")
    audit.add_argument("--json", action="store_true", help="JSON lines")
    audit.add_argument("--since", help="only entries newer than this (30m, 2h, 7d, or an ISO date)")
    sub.add_parser("check", help="validate configuration and the tools file")
    run = sub.add_parser("run", help="start agent work in a channel from a shell (as POST /api/runs)")
    run.add_argument("--post-to", required=True, metavar="PLACE", help="slack:channel:C… or teams:conversation:<id>")
    run.add_argument("--by", default=_login(), help="who asks (default: your login name, as console:<name>)")
    run.add_argument("--idempotency-key", help="the same key never starts a second run")
    run.add_argument("--json", action="store_true", help="print {thread_id, link} as JSON")
    run.add_argument("text", help="what to ask the agent")
    package = sub.add_parser("teams-package", help="write the Teams app package (manifest.json and icons)")
    package.add_argument("--app-id", required=True, help="the Azure Bot's Microsoft App ID (TEAMS_APP_ID)")
    package.add_argument("--domain", required=True, help="public host name of the bot, e.g. clearance.example.com")
    package.add_argument("--out", default="clearance-teams.zip", help="zip to write (default: clearance-teams.zip)")
    return parser


class _Version(argparse.Action):
    """--version, looked up only when asked: reading the installed metadata costs every other
    command tens of milliseconds."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from importlib import metadata

        try:
            version = metadata.version("clearance")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        print(f"clearance {version}")
        parser.exit()


def _login() -> str:
    import getpass
    import re

    try:
        name = getpass.getuser()
    except Exception:
        name = os.environ.get("USER", "me")
    return re.sub(r"[^A-Za-z0-9._@-]", "_", name) or "me"


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return await cmd_serve(settings, args)
    except _GraceOver:
        return 0


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.check import cmd_check

    return await cmd_check(settings, args)


COMMANDS: dict[str, Any] = {
    "serve": _serve, "console": cmd_console, "pending": cmd_pending,
    "audit": cmd_audit, "check": _check, "teams-package": cmd_teams_package, "run": cmd_run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "pending" and not args.approver:
            # Listing reads DATABASE_URL alone and logs nothing: it starts without the
            # settings machinery (which checks variables it never uses) and without logging.
            from bot.ledger import url as database_url

            return asyncio.run(_list_pending(database_url.read(), args.json))
        from bot.config import load_settings
        from bot.logs import setup_logging
        from graph.redact import Redactor

        settings = load_settings(check_llm=False)
        secrets = settings.secret_values()
        if args.command in ("serve", "console", "check", "run"):
            from bot.config import require_llm
            from bot.runtime import load_tools

            # Read once, here: its secrets are redacted from the first log line on, and the
            # command runs with this same registry instead of reading the file again.
            args.registry = load_tools(settings)
            secrets |= args.registry.secret_values()
            if not (settings.own_agent or args.registry.graph):
                require_llm(settings)  # the bundled agent runs: its model settings must be whole
        setup_logging(settings.log_level, Redactor(secrets), settings.log_format)
        return asyncio.run(COMMANDS[args.command](settings, args))
    except ConfigError as exc:
        print(f"clearance: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `clearance audit | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
