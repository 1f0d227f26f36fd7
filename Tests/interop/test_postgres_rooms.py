"""The rooms on PostgreSQL (issue 13): `praxis bench rooms` against `serve --db postgres://…` on a
private cluster (pg_cluster.py): every turn acknowledged (only once committed), every round ended
and persisted with the acknowledged turns as its transcript, the room moved to stage 2, the round
and room changes in the change log."""
from __future__ import annotations

import json
import subprocess

from conftest import BIN, start_server


def bench(*args: str, timeout: float = 90) -> dict:
    result = subprocess.run([BIN, "bench", *args, "--json"], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_rooms_on_postgres_acknowledge_every_turn_and_persist_every_round(pg_cluster):
    url = pg_cluster.fresh_database()
    srv = start_server(url, "--demo", "--password-hash-cost", "10")
    try:
        report = bench(
            "rooms", "--url", srv.url, "--service-key", srv.service_key, "--anon-key", srv.anon_key,
            "--rooms", "10", "--rate", "40", "--duration", "2", "--users", "4", "--server-pid", str(srv.process.pid),
        )
        assert report["errors"] == 0, report["first_error"]
        assert report["rooms_ready"] == 10 and report["peers"] == 20
        assert report["turns_sent"] > 0 and report["turns_acked"] == report["turns_sent"]
        assert report["deliveries"] == report["expected_deliveries"] == 2 * report["turns_acked"]
        assert report["rounds_ended"] == 10
        rounds = pg_cluster.query(url, "SELECT count(*) || ' ' || coalesce(sum(jsonb_array_length(transcript)), 0) FROM practice_rounds")
        assert rounds == f"10 {report['turns_acked']}"
        stage = pg_cluster.query(url, "SELECT count(*) FROM practice_rooms WHERE stage = 2 AND first_round_id IS NOT NULL")
        assert stage == "10"
        turns = pg_cluster.query(url, "SELECT count(*) FROM room_events WHERE type = 'turn'")
        assert int(turns) == report["turns_acked"]
        logged = pg_cluster.query(
            url, "SELECT count(*) FILTER (WHERE table_name = 'practice_rounds' AND type = 'INSERT') || ' ' || "
                 "count(*) FILTER (WHERE table_name = 'practice_rooms' AND type = 'UPDATE') FROM realtime_changes")
        rounds_logged, rooms_logged = (int(n) for n in logged.split())
        assert rounds_logged == 10 and rooms_logged >= 10
        assert srv.process.poll() is None
    finally:
        assert srv.stop() == 0
