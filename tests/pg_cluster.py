"""A throwaway PostgreSQL cluster from Debian's postgresql package, run as the postgres
user (postgres refuses to run as root), on a free loopback port. It can be stopped and
started again on the same port, for outage drills."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from typing import Iterator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.base = tempfile.mkdtemp(prefix="clearance-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = _free_port()
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*self.as_postgres, f"{bindir}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust"],
                       check=True, stdout=subprocess.DEVNULL)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off -c max_connections=200"
        subprocess.run([*self.as_postgres, f"{self.bindir}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                        os.path.join(self.base, "log"), "-w", "start"], check=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run([*self.as_postgres, f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def available() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise RuntimeError("no postgresql package to start a cluster from")
    started = Cluster(os.path.dirname(bins[-1]))
    try:
        started.start()
        yield started
    finally:
        started.remove()
