"""Shared fixtures: a real `praxis serve` process on 127.0.0.1, port 0, fresh SQLite file."""
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
        [BIN, "serve", "--port", "0", "--db", str(db), "--log-level", "warning", *args],
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
    keys = json.loads(subprocess.run([BIN, "keys", "--db", str(db)], check=True, capture_output=True, text=True).stdout)
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
    """A private PostgreSQL cluster for this test session (pg_cluster.py), stopped at its end."""
    from pg_cluster import Cluster

    cluster = Cluster()
    yield cluster
    cluster.stop()
