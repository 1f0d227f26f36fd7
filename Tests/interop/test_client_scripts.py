"""`praxis client run`: the shipped client scripts (scripts/rooms/*.json) against a fresh server,
and how the runner reports a failing and a malformed script.

One server for the module (--demo for the published cases; --room-min-phase-seconds 1 so that
full-room's timed preparation takes a second: its script takes --var prep_s=1). Every script makes
its own users and rooms (emails and room links carry the run id), so they share the server.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, start_server

pytestmark = pytest.mark.timeout(180)

SCRIPTS = sorted((ROOT / "scripts" / "rooms").glob("*.json"))
FAST_VARIABLES = {"prep_s": "1"}


@pytest.fixture(scope="module")
def room_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("client-scripts") / "praxis.sqlite", "--demo", "--room-min-phase-seconds", "1")
    yield srv
    srv.stop()


def client_run(server, *files: str | Path, variables: dict[str, str] | None = None, timeout: float = 150) -> subprocess.CompletedProcess:
    args = [BIN, "client", "run", "--url", server.url, "--anon-key", server.anon_key]
    for name, value in (variables or {}).items():
        args += ["--var", f"{name}={value}"]
    return subprocess.run([*args, *map(str, files)], capture_output=True, text=True, timeout=timeout)


def test_six_scripts_are_shipped() -> None:
    names = {path.stem for path in SCRIPTS}
    assert {"full-room", "seat-race", "private-room", "reconnect-resume", "invalid-commands", "board"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_shipped_script_passes(room_server, script: Path) -> None:
    declared = json.loads(script.read_text()).get("variables", {})
    result = client_run(room_server, script, variables={k: v for k, v in FAST_VARIABLES.items() if k in declared})
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()
    assert lines[-1].startswith(f"PASS {script.stem}: "), result.stdout
    assert not any(line.startswith("✗") for line in lines), result.stdout
    assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal


FAILING = {
    "name": "failing",
    "actors": {"visitor": {}},
    "steps": [
        {"do": "http", "actor": "visitor", "name": "rooms are readable", "method": "GET", "path": "/rest/v1/practice_rooms?limit=1",
         "expect": {"status": 200}},
        {"do": "http", "actor": "visitor", "name": "a room that is not there", "method": "GET",
         "path": "/rest/v1/practice_rooms?room_url=eq.no-such-room-${run}",
         "expect": {"status": 200, "body": [{"room_url": "no-such-room-${run}"}]}},
        {"do": "sleep", "ms": 1, "name": "never reached"},
    ],
}


def test_failing_script_exits_1_with_expected_and_arrived(room_server, tmp_path: Path) -> None:
    script = tmp_path / "failing.json"
    script.write_text(json.dumps(FAILING))
    result = client_run(room_server, script, timeout=60)
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    out = result.stdout
    assert "✓ step 1 visitor http rooms are readable" in out
    assert "✗ step 2 visitor http a room that is not there" in out
    expected = next(line for line in out.splitlines() if line.strip().startswith("expected:"))
    arrived = next(line for line in out.splitlines() if line.strip().startswith("arrived:"))
    assert '"room_url":"no-such-room-' in expected
    assert '"body":[]' in arrived and '"status":200' in arrived
    assert "at body: expected 1 element, arrived 0" in out
    assert "never reached" not in out
    assert out.splitlines()[-1].startswith("FAIL failing: step 2 (http) failed after ")


def test_a_failure_does_not_stop_the_next_file(room_server, tmp_path: Path) -> None:
    script = tmp_path / "failing.json"
    script.write_text(json.dumps(FAILING))
    result = client_run(room_server, script, ROOT / "scripts" / "rooms" / "board.json", timeout=60)
    assert result.returncode == 1, result.stdout
    assert "FAIL failing:" in result.stdout and "PASS board:" in result.stdout
    assert result.stdout.splitlines()[-1] == f"1 of 2 scripts failed: {script}"


def test_wait_times_out_within_its_bound(room_server, tmp_path: Path) -> None:
    script = tmp_path / "silent.json"
    script.write_text(json.dumps({
        "name": "silent", "actors": {"a": {}},
        "steps": [
            {"do": "join", "actor": "a", "topic": "realtime:quiet"},
            {"do": "wait", "actor": "a", "topic": "realtime:quiet", "event": "broadcast", "timeout_ms": 300},
        ],
    }))
    result = client_run(room_server, script, timeout=30)
    assert result.returncode == 1, result.stdout
    assert "no broadcast message on realtime:quiet matched within 300 ms (none arrived)" in result.stdout


def test_time_limit_stops_a_script(room_server, tmp_path: Path) -> None:
    script = tmp_path / "slow.json"
    script.write_text(json.dumps({
        "name": "slow", "timeout_s": 1, "actors": {"a": {}},
        "steps": [{"do": "sleep", "ms": 5000}],
    }))
    result = client_run(room_server, script, timeout=30)
    assert result.returncode == 1, result.stdout
    assert "time limit of 1 s ran out" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps({"name": "m", "actors": {"a": {}}, "steps": [
            {"do": "sleep", "ms": 1}, {"do": "push", "actor": "a", "topic": "realtime:x", "payload": {}}]}),
         "step 2 (push): missing field event"),
        ('{"name": "m", "actors": {"a": {}},\n "steps": [{"do": "sleep" "ms": 1}]}', "not JSON: line 2, column 27: expected ',' or '}'"),
        (json.dumps({"name": "m", "actors": {"a": {}}, "steps": [{"do": "join", "actor": "a", "topic": "realtime:room:${room_id}"}]}),
         "step 1 (join): ${room_id} is used before any step saves room_id"),
        (json.dumps({"name": "m", "actors": {"a": {}}, "steps": [{"do": "wait", "actor": "b", "topic": "t", "event": "e"}]}),
         "step 1 (wait): unknown actor b"),
        (json.dumps({"name": "m", "actors": {"a": {}}, "steps": [{"do": "dance", "actor": "a"}]}), "step 1: do must be one of"),
    ],
    ids=["missing-field", "not-json", "unsaved-variable", "unknown-actor", "unknown-kind"],
)
def test_malformed_script_exits_2_with_one_line(room_server, tmp_path: Path, text: str, message: str) -> None:
    script = tmp_path / "malformed.json"
    script.write_text(text)
    result = client_run(room_server, ROOT / "scripts" / "rooms" / "board.json", script, timeout=30)
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stdout == ""  # nothing ran, not even the valid board.json
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"praxis: {script}: ") and message in lines[0], lines[0]


def test_usage_errors_exit_2(room_server, tmp_path: Path) -> None:
    board = ROOT / "scripts" / "rooms" / "board.json"
    for args in (
        ["--url", "http://127.0.0.1:1/path", "--anon-key", "k", str(board)],
        ["--url", room_server.url, str(board)],  # no key
        ["--url", room_server.url, "--anon-key", "k"],  # no file
        ["--url", room_server.url, "--anon-key", "k", "--var", "nope=1", str(board)],
        ["--url", room_server.url, "--anon-key", "k", str(tmp_path / "missing.json")],
    ):
        result = subprocess.run([BIN, "client", "run", *args], capture_output=True, text=True, timeout=30,
                                env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 2, f"{args}: exit {result.returncode}\n{result.stderr}"
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_anon_key_from_the_database(room_server) -> None:
    result = subprocess.run(
        [BIN, "client", "run", "--url", room_server.url, "--db", room_server.database, str(ROOT / "scripts" / "rooms" / "board.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
