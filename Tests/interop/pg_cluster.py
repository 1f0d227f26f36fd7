"""A private PostgreSQL cluster for the interop tests, as the Swift tests' TestPostgres starts one.

`initdb` into a temporary folder (as the `postgres` OS user when the tests run as root), `trust`
on loopback, a free loopback port, `-k` a temporary socket folder; ready once `pg_isready` says so.
Stopped (fast shutdown) and removed at the end of the session. No system service. Missing
binaries are an error, not a skip: scripts/setup installs Debian's `postgresql`.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path(os.environ.get("PRAXIS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Cluster:
    def __init__(self) -> None:
        for tool in ("initdb", "postgres", "pg_isready", "createdb"):
            if not os.access(BIN / tool, os.X_OK):
                raise RuntimeError(f"PostgreSQL binaries missing in {BIN} (run scripts/setup, or set PRAXIS_PG_BIN)")
        self.root = Path(tempfile.mkdtemp(prefix="praxis-pg-"))
        self.root.chmod(0o755)
        self.as_root = os.geteuid() == 0
        sockets = self.root / "sockets"
        sockets.mkdir()
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(sockets, "postgres", "postgres")
        data = self.root / "data"
        self._run(BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync")
        self.port = _free_port()
        log = open(self.root / "postgres.log", "wb")
        command = [
            str(BIN / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sockets),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]
        self.process = subprocess.Popen(self._as_postgres(command), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._names = itertools.count(1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            ready = subprocess.run([BIN / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"])
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{self.port}: {(self.root / 'postgres.log').read_text(errors='replace')}")

    def fresh_database(self) -> str:
        """A new, empty database on the cluster; returns its postgres:// URL."""
        name = f"praxis_interop_{next(self._names)}"
        subprocess.run([BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name], check=True, capture_output=True)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def query(self, url: str, sql: str) -> str:
        """One value of `sql` run with psql on the database of `url` (as the postgres user)."""
        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        result = subprocess.run(
            [BIN / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", name, "-At", "-c", sql],
            check=True, capture_output=True, text=True,
        )
        return result.stdout.strip()

    def stop(self) -> None:
        """Fast shutdown of the postmaster itself (as root, `self.process` is runuser, which
        does not pass a signal on: signalled alone it exits and leaves postgres running on a
        removed folder), then the folder removed once it is gone."""
        postmaster = self._postmaster_pid()
        if postmaster is not None:
            _signal(postmaster, signal.SIGINT)
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if postmaster is not None and not _gone(postmaster, within=30):
            _signal(postmaster, signal.SIGKILL)
            _gone(postmaster, within=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def _postmaster_pid(self) -> int | None:
        """The postmaster's pid from its lock file (its first line), None before it wrote one."""
        try:
            first = (self.root / "data" / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        except OSError:
            return None
        return int(first) if first.isdigit() else None

    def _as_postgres(self, command: list[str]) -> list[str]:
        return ["/usr/sbin/runuser", "-u", "postgres", "--", *command] if self.as_root else command

    def _run(self, *command) -> None:
        subprocess.run(self._as_postgres([str(part) for part in command]), check=True, capture_output=True, stdin=subprocess.DEVNULL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _gone(pid: int, within: float) -> bool:
    """Whether process `pid` has exited (it is not our child: polled) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
