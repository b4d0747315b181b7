"""What the benchmarks share: the machine they ran on, `clearance serve` in its own process,
a scratch PostgreSQL database, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("CLEARANCE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def machine() -> str:
    """One line: cores, CPU, Python and the versions of what is measured."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for dist in ("langgraph", "langgraph-checkpoint-postgres", "psycopg", "aiohttp", "aiosqlite"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{dist} {metadata.version(dist)}")
    pg = ""
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(PG, connect_timeout=2) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = f"; PostgreSQL {row[0] if row else '?'}"
    return (f"machine: nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, "
            f"{', '.join(versions)}{pg}")


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..1) in milliseconds of values in seconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000 if ordered else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def scratch_database(server_url: str = PG) -> Iterator[str]:
    """A fresh database on the given server for the run, dropped afterwards."""
    import psycopg

    name = "clearance_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.asynccontextmanager
async def serve_process(env: dict[str, str], *, stock_lock: bool = False,
                        timeout: float = 60) -> AsyncIterator[tuple[str, asyncio.subprocess.Process, float]]:
    """`clearance serve` in its own process on a free loopback port. Yields its base URL,
    the process and the seconds from spawn to the first 200 from /readyz."""
    port = free_port()
    full = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "CLEARANCE_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]), **env}
    args = [sys.executable, str(ROOT / "bench" / "serve.py")] + (["--stock-lock"] if stock_lock else [])
    if os.environ.get("CLEARANCE_BENCH_PROFILE"):  # a pyinstrument profile of the server, to that file
        args[1:1] = ["-m", "pyinstrument", "-o", f"{os.environ['CLEARANCE_BENCH_PROFILE']}.{port}.txt"]
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*args, env=full, cwd=str(ROOT), stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = await wait_ready(url, proc, timeout)
        yield url, proc, ready - started
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"clearance serve exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + "/readyz") as resp:
                    if resp.status == 200:
                        return time.perf_counter()
            await asyncio.sleep(0.01)
    raise RuntimeError("clearance serve never became ready")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def show(fields: dict[str, Any]) -> None:
    """Every figure as `name: value`, one a line, so a reader and the smoke test see the same."""
    for name, value in fields.items():
        print(f"  {name}: {value}")
