"""Shared fixtures: a real `praxis serve` process on 127.0.0.1, port 0, with a fresh database.

The database is a SQLite file by default. With `PRAXIS_TEST_BACKEND=postgres` every server runs on
a fresh database of a private PostgreSQL cluster instead (one cluster per test process, started on
first use, stopped at the end; see pg_cluster.py). Tests still name their database by a path: the
same path gives the same PostgreSQL database, so a restart finds its data. Tests of what only the
SQLite file has (WAL, the file itself) are marked `sqlite_only` and skipped on PostgreSQL.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("PRAXIS_BIN", str(ROOT / ".build" / "debug" / "praxis"))
LISTENING = re.compile(r"Praxis listening on http://([0-9.]+):(\d+)")
# Which store the servers run on: "sqlite" (default) or "postgres".
BACKEND = os.environ.get("PRAXIS_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"PRAXIS_TEST_BACKEND must be sqlite or postgres, not {BACKEND!r}")

_cluster = None
_databases: dict[str, str] = {}


def postgres_cluster():
    """This process's private PostgreSQL cluster, started on first use."""
    global _cluster
    if _cluster is None:
        from pg_cluster import Cluster

        _cluster = Cluster()
    return _cluster


def database_for(db: Path) -> str:
    """What `--db` is for the database a test names by `db`: the path itself on SQLite, and on
    PostgreSQL the URL of a database created for that path on first use (the same one after)."""
    key = str(db)
    if BACKEND == "sqlite" or key.startswith(("postgres://", "postgresql://")):
        return key
    if key not in _databases:
        _databases[key] = postgres_cluster().fresh_database()
    return _databases[key]


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): tests what only the SQLite file has; skipped on PostgreSQL")


def pytest_collection_modifyitems(config, items) -> None:
    if BACKEND != "postgres":
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "SQLite only")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def pytest_sessionfinish(session, exitstatus) -> None:
    if _cluster is not None:
        _cluster.stop()


@dataclass
class Server:
    """A running server process and what a client needs to talk to it."""

    process: subprocess.Popen
    host: str
    port: int
    db: Path
    anon_key: str
    service_key: str
    output: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    @property
    def database(self) -> str:
        """What the server was given as `--db` (a path, or a postgres:// URL)."""
        return database_for(self.db)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        check_no_store_call_on_event_loop(self)
        return self.process.returncode


# What a debug build prints when a store call ran on an event loop (PraxisStore's EventLoopCheck).
STORE_ON_EVENT_LOOP = "PraxisStore called on an event loop"


def check_no_store_call_on_event_loop(server: Server) -> None:
    """Fails loudly when the (debug) server stopped on the store's event-loop check."""
    if server.pump is not None:
        server.pump.join(timeout=5)
    output = "".join(server.output)
    assert STORE_ON_EVENT_LOOP not in output, "the server made a store call on an event loop:\n" + output[-4000:]


def start_server(db: Path, *args: str, env: dict | None = None, timeout: float = 30,
                 preexec_fn=None) -> Server:
    """Starts `praxis serve --port 0 --db DB ARGS…` and waits for its listening line.
    `preexec_fn` runs in the child before exec (e.g. to lower its open-file limit)."""
    process = subprocess.Popen(
        [BIN, "serve", "--port", "0", "--db", database_for(db), "--log-level", "warning", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )
    output: list[str] = []
    found: list[tuple[str, int]] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = LISTENING.search(line)
            if match and not found:
                found.append((match.group(1), int(match.group(2))))
                ready.set()
        ready.set()

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    if not ready.wait(timeout) or not found:
        process.kill()
        raise RuntimeError("server did not start:\n" + "".join(output))
    keys = json.loads(subprocess.run([BIN, "keys", "--db", database_for(db)], check=True, capture_output=True, text=True).stdout)
    host, port = found[0]
    return Server(process, host, port, db, keys["anon"], keys["service_role"], output, pumping)


@pytest.fixture
def server(tmp_path: Path):
    """A fresh server with an empty database (no demo data)."""
    srv = start_server(tmp_path / "praxis.sqlite")
    yield srv
    srv.stop()


@pytest.fixture
def demo_server(tmp_path: Path):
    """A fresh server with the demo data loaded."""
    srv = start_server(tmp_path / "praxis.sqlite", "--demo")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def pg_cluster():
    """This process's private PostgreSQL cluster (pg_cluster.py), stopped at the session's end."""
    return postgres_cluster()
