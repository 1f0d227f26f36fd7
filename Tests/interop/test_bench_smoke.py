"""`praxis bench`: the load tool against a real `praxis serve --echo`, at a size that runs in seconds.

Checks that each benchmark finishes by itself, prints one JSON object with its documented fields,
counts no errors and, for the fan-out and the realtime board feed, delivers every message (every
room change) to every subscriber. No timing assertions: the figures depend on the machine.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, start_server
from helpers import db_count, db_rows, db_tables

pytestmark = pytest.mark.timeout(120)

LATENCY_FIELDS = {"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms", "latency_mean_ms"}

FANOUT_FIELDS = LATENCY_FIELDS | {
    "benchmark", "url", "subscribers", "subscribers_connected", "rate", "size", "duration", "threads",
    "connect_seconds", "published", "publish_seconds", "publish_rate", "expected_deliveries", "deliveries",
    "missing", "delivery_seconds", "deliveries_per_second", "connect_failures", "unexpected_closes",
    "malformed_messages", "errors", "first_error", "client_cpu_seconds", "client_cpu_seconds_per_million_deliveries",
    "server_pid", "server_cpu_seconds", "server_cpu_seconds_per_million_deliveries", "machine_cpu_seconds",
}

CONNECT_FIELDS = LATENCY_FIELDS | {
    "benchmark", "url", "connections", "concurrency", "threads", "opened", "closed_cleanly", "connect_failures",
    "unclean_closes", "errors", "first_error", "seconds", "handshakes_per_second", "client_cpu_seconds",
    "server_pid", "server_cpu_seconds", "machine_cpu_seconds",
}

BOARD_FIELDS = LATENCY_FIELDS | {
    "benchmark", "url", "subscribers", "subscribers_connected", "subscriber_role", "rate", "duration", "threads",
    "writer_connections", "max_in_flight", "connect_seconds", "requests", "changes", "inserts", "updates",
    "change_seconds", "change_rate", "write_latency_p50_ms", "write_latency_p99_ms", "write_latency_max_ms",
    "expected_deliveries", "deliveries", "missing", "extra", "delivery_seconds", "deliveries_per_second",
    "connect_failures", "join_failures", "unexpected_closes", "malformed_messages", "order_violations",
    "channel_errors", "write_failures", "unanswered_requests", "errors", "foreign_changes", "first_error",
    "client_cpu_seconds", "client_cpu_seconds_per_million_deliveries", "server_pid", "server_cpu_seconds",
    "server_cpu_seconds_per_million_deliveries", "machine_cpu_seconds",
}

ROOMS_FIELDS = {
    "benchmark", "url", "rooms", "rooms_ready", "peers", "rate", "duration", "users", "setup_seconds", "turns_sent",
    "turns_acked", "turns_per_second", "ack_p50_ms", "ack_p90_ms", "ack_p99_ms", "ack_max_ms", "ack_mean_ms",
    "deliveries", "expected_deliveries", "rounds_ended", "round_end_p50_ms", "round_end_p99_ms", "round_end_max_ms",
    "error_replies", "order_violations", "unexpected_closes", "setup_failures", "errors", "first_error",
    "client_cpu_seconds", "server_pid", "server_cpu_seconds", "server_cpu_ms_per_turn",
}

IDLE_FIELDS = {
    "benchmark", "url", "connections", "concurrency", "threads", "opened", "connect_failures", "unexpected_closes",
    "errors", "first_error", "connect_seconds", "hold_seconds", "server_pid", "server_rss_before_kib",
    "server_rss_after_kib", "server_rss_per_connection_kib", "client_rss_per_connection_kib",
}


@pytest.fixture
def echo_server(tmp_path: Path):
    srv = start_server(tmp_path / "praxis.sqlite", "--echo", "--ws-max-messages-per-second", "100000")
    yield srv
    srv.stop()


def bench(*args: str, timeout: float = 60) -> dict:
    """Runs `praxis bench ARGS… --json` and returns its JSON object (stdout holds nothing else)."""
    result = subprocess.run([BIN, "bench", *args, "--json"], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr}"
    return json.loads(result.stdout)


def test_fanout_delivers_every_message_to_every_subscriber(echo_server) -> None:
    pid = str(echo_server.process.pid)
    report = bench(
        "fanout", "--url", echo_server.ws_url, "--subscribers", "20", "--rate", "200", "--size", "200",
        "--duration", "2", "--server-pid", pid,
    )
    assert FANOUT_FIELDS <= report.keys(), FANOUT_FIELDS - report.keys()
    assert report["benchmark"] == "fanout"
    assert report["url"].endswith("/ws/broadcast")
    assert report["errors"] == 0 and report["connect_failures"] == 0 and report["unexpected_closes"] == 0
    assert report["first_error"] is None
    assert report["subscribers_connected"] == 20
    assert report["published"] == 400
    assert report["expected_deliveries"] == report["published"] * report["subscribers"]
    assert report["deliveries"] == report["published"] * report["subscribers"]
    assert report["missing"] == 0
    assert report["server_pid"] == echo_server.process.pid
    assert report["server_cpu_seconds"] is not None and report["server_cpu_seconds"] >= 0
    assert report["server_cpu_seconds_per_million_deliveries"] is not None
    assert 0 < report["latency_p50_ms"] <= report["latency_p90_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert echo_server.process.poll() is None


def test_connect_opens_and_closes_cleanly(echo_server) -> None:
    report = bench("connect", "--url", echo_server.ws_url, "--connections", "50")
    assert CONNECT_FIELDS <= report.keys(), CONNECT_FIELDS - report.keys()
    assert report["benchmark"] == "connect"
    assert report["errors"] == 0 and report["connect_failures"] == 0 and report["unclean_closes"] == 0
    assert report["opened"] == 50 and report["closed_cleanly"] == 50
    assert report["handshakes_per_second"] > 0
    assert report["server_cpu_seconds"] is None  # no --server-pid
    assert 0 < report["latency_p50_ms"] <= report["latency_max_ms"]


def test_idle_reads_server_memory(echo_server) -> None:
    pid = str(echo_server.process.pid)
    report = bench("idle", "--url", echo_server.ws_url, "--connections", "50", "--server-pid", pid, "--hold", "1")
    assert IDLE_FIELDS <= report.keys(), IDLE_FIELDS - report.keys()
    assert report["benchmark"] == "idle"
    assert report["errors"] == 0 and report["connect_failures"] == 0 and report["unexpected_closes"] == 0
    assert report["opened"] == 50
    assert report["server_rss_before_kib"] > 0 and report["server_rss_after_kib"] > 0
    assert isinstance(report["server_rss_per_connection_kib"], (int, float))


@pytest.fixture
def plain_server(tmp_path: Path):
    srv = start_server(tmp_path / "praxis.sqlite")
    yield srv
    srv.stop()


def test_board_delivers_every_room_change_to_every_subscriber(plain_server) -> None:
    pid = str(plain_server.process.pid)
    report = bench(
        "board", "--url", plain_server.url, "--service-key", plain_server.service_key, "--anon-key", plain_server.anon_key,
        "--subscribers", "20", "--rate", "20", "--duration", "2", "--server-pid", pid,
    )
    assert BOARD_FIELDS <= report.keys(), BOARD_FIELDS - report.keys()
    assert report["benchmark"] == "board"
    assert report["url"].endswith("/realtime/v1/websocket")
    assert report["subscriber_role"] == "anon"
    assert report["errors"] == 0, report["first_error"]
    assert report["first_error"] is None
    for field in ("connect_failures", "join_failures", "unexpected_closes", "malformed_messages", "order_violations",
                  "channel_errors", "write_failures", "unanswered_requests", "foreign_changes"):
        assert report[field] == 0, field
    assert report["subscribers_connected"] == 20
    assert report["changes"] > 0
    assert report["changes"] == report["requests"] == report["inserts"] + report["updates"]
    assert report["inserts"] >= report["updates"] > 0
    assert report["expected_deliveries"] == report["changes"] * report["subscribers"]
    assert report["deliveries"] == report["expected_deliveries"]
    assert report["missing"] == 0 and report["extra"] == 0
    assert report["server_pid"] == plain_server.process.pid
    assert report["server_cpu_seconds"] is not None and report["server_cpu_seconds"] >= 0
    assert report["server_cpu_seconds_per_million_deliveries"] is not None
    assert 0 < report["latency_p50_ms"] <= report["latency_p90_ms"] <= report["latency_p99_ms"] <= report["latency_max_ms"]
    assert 0 < report["write_latency_p50_ms"] <= report["write_latency_max_ms"]
    assert plain_server.process.poll() is None


@pytest.fixture
def demo_server_fast(tmp_path: Path):
    srv = start_server(tmp_path / "praxis.sqlite", "--demo", "--password-hash-cost", "10")
    yield srv
    srv.stop()


def test_rooms_acknowledges_every_turn_and_ends_every_round(demo_server_fast) -> None:
    srv = demo_server_fast
    report = bench(
        "rooms", "--url", srv.url, "--service-key", srv.service_key, "--anon-key", srv.anon_key,
        "--rooms", "10", "--rate", "40", "--duration", "2", "--users", "4", "--server-pid", str(srv.process.pid),
    )
    assert ROOMS_FIELDS <= report.keys(), ROOMS_FIELDS - report.keys()
    assert report["benchmark"] == "rooms"
    assert report["errors"] == 0, report["first_error"]
    assert report["rooms_ready"] == 10 and report["peers"] == 20
    assert report["turns_sent"] > 0
    assert report["turns_acked"] == report["turns_sent"]
    assert report["deliveries"] == report["expected_deliveries"] == 2 * report["turns_acked"]
    assert report["rounds_ended"] == 10
    assert 0 < report["ack_p50_ms"] <= report["ack_p99_ms"] <= report["ack_max_ms"]
    assert 0 < report["round_end_p50_ms"] <= report["round_end_max_ms"]
    assert report["server_cpu_ms_per_turn"] is not None
    # The rounds really were persisted, with the acknowledged turns as their transcripts.
    transcripts = [row[0] for row in db_rows(srv, "SELECT transcript FROM practice_rounds")]
    stages = db_rows(srv, "SELECT count(*) FROM practice_rooms WHERE stage = 2 AND first_round_id IS NOT NULL")[0]
    assert (len(transcripts), sum(len(json.loads(t)) for t in transcripts)) == (10, report["turns_acked"])
    assert stages == (10,)
    assert srv.process.poll() is None


def test_rooms_at_a_steady_rate_end_rooms_over_time(demo_server_fast) -> None:
    srv = demo_server_fast
    report = bench(
        "rooms", "--url", srv.url, "--service-key", srv.service_key, "--anon-key", srv.anon_key,
        "--rooms", "4", "--rate", "40", "--duration", "6", "--room-lifetime", "2", "--users", "4",
        "--server-pid", str(srv.process.pid),
    )
    assert report["errors"] == 0, report["first_error"]
    assert report["rooms_ready"] == 4
    assert report["turns_sent"] > 0 and report["turns_acked"] == report["turns_sent"]
    # Each slot's first room ends within the first 2 s, then one room every ~2 s: rooms came and went.
    rooms_in_all = report["peers"] // 2
    assert report["rounds_ended"] >= 8
    assert rooms_in_all >= report["rounds_ended"] + 1
    rounds = db_count(srv, "practice_rounds")
    ended = db_count(srv, "practice_rooms", "stage = 2 AND first_round_id IS NOT NULL")
    assert rounds == ended == report["rounds_ended"]
    assert srv.process.poll() is None


def test_refuses_a_remote_host_and_bounds_its_runs() -> None:
    for args in (
        ["fanout", "--url", "ws://192.0.2.1:8080", "--subscribers", "1", "--rate", "1", "--duration", "1"],
        ["fanout", "--url", "ws://127.0.0.1:8080", "--subscribers", "50001", "--rate", "1", "--duration", "1"],
        ["fanout", "--url", "ws://127.0.0.1:8080", "--subscribers", "1", "--rate", "1", "--duration", "601"],
        ["idle", "--url", "ws://127.0.0.1:8080", "--connections", "1"],
        ["board", "--url", "http://192.0.2.1:8080", "--service-key", "k", "--subscribers", "1", "--rate", "1", "--duration", "1"],
        ["board", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--subscribers", "50001", "--rate", "1", "--duration", "1"],
        ["board", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--subscribers", "1", "--rate", "1", "--duration", "601"],
        ["board", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--subscribers", "1", "--rate", "10001", "--duration", "1"],
        ["board", "--url", "http://127.0.0.1:8080", "--subscribers", "1", "--rate", "1", "--duration", "1"],
        ["rooms", "--url", "http://192.0.2.1:8080", "--service-key", "k", "--rooms", "1", "--rate", "1", "--duration", "1"],
        ["rooms", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--rooms", "25001", "--rate", "1", "--duration", "1"],
        ["rooms", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--rooms", "1", "--rate", "1", "--duration", "601"],
        ["rooms", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--rooms", "1", "--rate", "1", "--duration", "1", "--users", "1"],
        ["rooms", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--rooms", "1", "--rate", "1", "--duration", "5", "--room-lifetime", "0.5"],
        ["rooms", "--url", "http://127.0.0.1:8080", "--service-key", "k", "--rooms", "1", "--rate", "1", "--duration", "5", "--room-lifetime", "6"],
    ):
        result = subprocess.run([BIN, "bench", *args], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
