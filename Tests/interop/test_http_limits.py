"""HTTP connection limits and timeouts against a real `praxis serve` (issue 11, items 5 and 9).

Raw sockets only: half-open requests, silent connections, bytes that are not HTTP, several
source addresses on the loopback (127.0.0.2, 127.0.0.3 … all reach 127.0.0.1's listener), a
lowered open-file limit for the server process, and its CPU time read from /proc.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import select
import signal
import socket
import time
from pathlib import Path

import pytest

from conftest import start_server
from helpers import raw_sign_up
from room_helpers import RoomPeer, seated_room
from wsraw import handshake_request

HALF_HEAD = b"GET /health HTTP/1.1\r\nHost: praxis\r\nAccept: */*\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: praxis\r\n\r\n"


# ---------------------------------------------------------------- helpers


def lowered_file_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


def dial(server, source: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    return sock


def read_until_eof(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the server sends until it closes: (bytes, closed within `timeout`)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def read_response(sock: socket.socket, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    """One complete response with a Content-Length body on a connection that stays open."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        assert chunk, "closed inside a response body"
        body += chunk
    return status, headers, body


def status_of(raw: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", raw)
    return int(match.group(1)) if match else None


def json_body(raw: bytes) -> dict:
    return json.loads(raw.partition(b"\r\n\r\n")[2])


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health_once(server, timeout: float) -> int | None:
    """One /health on a fresh connection from 127.0.0.1: the status, or None (refused / no answer)."""
    try:
        sock = dial(server, timeout=timeout)
    except OSError:
        return None
    with sock:
        try:
            sock.sendall(HEALTH)
            status, _, _ = read_response(sock, timeout)
            return status
        except (OSError, AssertionError):
            return None


def health_until_ok(server, within: float) -> tuple[float, list[int | None]]:
    """Asks /health until it answers 200; returns (seconds it took, statuses seen)."""
    start = time.monotonic()
    seen: list[int | None] = []
    while time.monotonic() - start < within:
        status = health_once(server, timeout=max(0.5, min(3.0, within - (time.monotonic() - start))))
        seen.append(status)
        if status == 200:
            return time.monotonic() - start, seen
        time.sleep(0.1)  # a retry pause between attempts, bounded by `within`
    raise AssertionError(f"/health never answered 200 within {within} s: {seen[-10:]}")


def open_half_requests(server, count: int, sources: list[str]) -> list[socket.socket]:
    """`count` connections, spread over `sources`, each sending half a request head."""
    sockets = []
    for index in range(count):
        sock = dial(server, sources[index % len(sources)])
        sock.sendall(HALF_HEAD)
        sockets.append(sock)
    return sockets


def log_lines(server, pattern: str) -> list[str]:
    return [line for line in server.output if re.search(pattern, line)]


@pytest.fixture
def make_server(tmp_path: Path):
    started = []

    def make(*args: str, **kwargs):
        srv = start_server(tmp_path / f"praxis{len(started)}.sqlite", *args, **kwargs)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


# ---------------------------------------------------------------- timeouts and closing


def test_half_open_connections_get_408_and_are_closed_after_the_header_timeout(make_server):
    server = make_server("--http-header-timeout", "1")
    start = time.monotonic()
    half = [dial(server) for _ in range(10)]
    for sock in half:
        sock.sendall(HALF_HEAD)
    silent = dial(server)
    for sock in half:
        raw, closed = read_until_eof(sock, timeout=5)
        elapsed = time.monotonic() - start
        assert closed, "a half-open connection was not closed"
        assert 0.9 <= elapsed < 3.5, elapsed
        assert status_of(raw) == 408, raw
        assert b"Connection: close\r\n" in raw
        assert json_body(raw)["code"] == "PGRST408"
        sock.close()
    raw, closed = read_until_eof(silent, timeout=5)
    assert closed and raw == b"", raw
    silent.close()
    assert health_once(server, timeout=5) == 200


def test_a_request_that_is_not_http_gets_400_and_the_socket_closes_at_once(make_server):
    server = make_server()  # default header timeout 10 s: a close within 2 s comes from the error path
    with dial(server) as sock:
        sock.sendall(b"HELLO THERE\r\n\r\n")
        raw, closed = read_until_eof(sock, timeout=2)
    assert closed, f"socket still open 2 s after the 400: {raw!r}"
    assert status_of(raw) == 400 and b"Connection: close\r\n" in raw, raw
    assert json_body(raw)["code"] == "PGRST400"
    with dial(server) as sock:
        sock.sendall(b"POST /rest/v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        raw, closed = read_until_eof(sock, timeout=2)
    assert closed and status_of(raw) == 413, raw
    with dial(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        raw, closed = read_until_eof(sock, timeout=2)
    assert closed and status_of(raw) == 431, raw


def test_keep_alive_connection_closes_after_the_idle_timeout(make_server):
    server = make_server("--http-idle-timeout", "1", "--http-header-timeout", "5")
    with dial(server) as sock:
        sock.sendall(HEALTH)
        status, headers, _ = read_response(sock)
        assert status == 200 and headers.get("connection") != "close"
        sock.sendall(HEALTH)  # still open for a second request
        assert read_response(sock)[0] == 200
        start = time.monotonic()
        raw, closed = read_until_eof(sock, timeout=4)
        assert closed and raw == b"", raw
        assert 0.9 <= time.monotonic() - start < 3


def test_body_timeout(make_server):
    server = make_server("--http-body-timeout", "1", "--http-header-timeout", "5")
    with dial(server) as sock:
        sock.sendall(b"POST /rest/v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        start = time.monotonic()
        raw, closed = read_until_eof(sock, timeout=4)
    assert closed and status_of(raw) == 408 and json_body(raw)["code"] == "PGRST408", raw
    assert 0.9 <= time.monotonic() - start < 3


# ---------------------------------------------------------------- per-IP and total limits


def test_per_ip_limit_refuses_the_extra_connection_with_503_and_logs_once(make_server):
    server = make_server("--http-max-connections-per-ip", "4")
    held = []
    for _ in range(4):
        sock = dial(server, "127.0.0.2")
        sock.sendall(HEALTH)
        assert read_response(sock)[0] == 200  # admitted, and kept alive
        held.append(sock)
    for _ in range(20):
        with dial(server, "127.0.0.2") as extra:
            raw, closed = read_until_eof(extra, timeout=3)
        assert closed and status_of(raw) == 503, raw
        assert b"Retry-After: 5\r\n" in raw and json_body(raw)["code"] == "PGRST503"
    # Another address is not affected.
    assert health_once(server, timeout=5) == 200
    refused = log_lines(server, r"connection refused: --http-max-connections-per-ip")
    assert 1 <= len(refused) <= 2, refused  # 20 refusals, rate-limited to one line per 10 s
    for sock in held:
        sock.close()


def test_an_upgraded_websocket_leaves_the_http_count_and_counts_under_the_websocket_limit(make_server):
    server = make_server("--echo", "--http-max-connections-per-ip", "2", "--ws-max-connections-per-ip", "2")
    websockets_open = []
    for _ in range(2):
        sock = dial(server, "127.0.0.3")
        request, _ = handshake_request(server.host, server.port, "/ws/echo")
        sock.sendall(request)
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 "), "upgrade refused"
        websockets_open.append(sock)
    # Both WebSockets are open, yet two plain HTTP connections from the same address get in …
    plain = []
    for _ in range(2):
        sock = dial(server, "127.0.0.3")
        sock.sendall(HEALTH)
        assert read_response(sock)[0] == 200
        plain.append(sock)
    # … and a third is over the HTTP limit.
    with dial(server, "127.0.0.3") as extra:
        raw, closed = read_until_eof(extra, timeout=3)
    assert closed and status_of(raw) == 503 and b"your address" in raw, raw
    for sock in plain:
        sock.close()
    # A third WebSocket is over the WebSocket limit (its HTTP connection is admitted once the
    # plain ones are released on the server).
    deadline = time.monotonic() + 5
    while True:
        with dial(server, "127.0.0.3") as sock:
            request, _ = handshake_request(server.host, server.port, "/ws/echo")
            sock.sendall(request)
            raw, _ = read_until_eof(sock, timeout=3)
        if b"WebSocket" in raw or time.monotonic() > deadline:
            break
    assert status_of(raw) == 503 and b"too many WebSocket connections" in raw, raw
    for sock in websockets_open:
        sock.close()


def _hold_under_low_file_limit(server, count: int, header_timeout: float) -> dict:
    """Holds `count` half-open connections (from 127.0.0.2/.3) against a server whose
    open-file limit is 256; measures its CPU while they are held and how long /health takes."""
    pid = server.process.pid
    cpu_before = cpu_seconds(pid)
    attack_start = time.monotonic()
    attackers = open_half_requests(server, count, ["127.0.0.2", "127.0.0.3"])
    try:
        # Let the server finish the burst (the connections past the limits are answered 503 and
        # closed): wait until no more attacker sockets turn readable, then drop those.
        answered: set[int] = set()
        settle_deadline = time.monotonic() + 3
        while time.monotonic() < settle_deadline:
            readable, _, _ = select.select([s for s in attackers if s.fileno() not in answered], [], [], 0.3)
            if not readable:
                break
            answered.update(s.fileno() for s in readable)
        for sock in [s for s in attackers if s.fileno() in answered]:
            sock.close()
        # The server's CPU while the rest are held (well inside the header timeout).
        window_start = time.monotonic()
        cpu_start = cpu_seconds(pid)
        time.sleep(2.0)  # the measurement window itself
        cpu_used = cpu_seconds(pid) - cpu_start
        window = time.monotonic() - window_start
        assert time.monotonic() - attack_start < header_timeout, "the window must end before the header timeout"
        first = health_once(server, timeout=3)
        _, seen = health_until_ok(server, within=2 * header_timeout + 5)
        return {"cpu_share": cpu_used / window, "first": first, "refused_at_once": len(answered), "took": time.monotonic() - attack_start,
                "seen": seen[-5:], "setup_cpu": cpu_start - cpu_before}
    finally:
        for sock in attackers:
            sock.close()


def test_hundreds_of_half_open_connections_under_a_low_file_limit(make_server):
    """The default --max-connections (open-file limit − 128 = 128 here): connections past it are
    answered 503 and closed at once, so the server never runs out of descriptors; the held ones
    get 408 after the header timeout, and /health answers 200 within that timeout."""
    header_timeout = 4.0
    server = make_server("--http-header-timeout", str(header_timeout), preexec_fn=lowered_file_limit(256))
    assert Path(f"/proc/{server.process.pid}/limits").read_text().count("256") >= 2
    result = _hold_under_low_file_limit(server, count=400, header_timeout=header_timeout)
    assert result["cpu_share"] < 0.05, result
    assert result["refused_at_once"] >= 400 - 128, result
    assert result["first"] in (200, 503), result  # answered at once, not left hanging
    assert result["took"] < header_timeout + 3, result
    assert len(log_lines(server, r"connection refused: --max-connections")) <= 2
    assert not log_lines(server, r"accept failed"), "the gate should keep accept from running out of descriptors"
    assert health_once(server, timeout=5) == 200


def test_accept_backs_off_when_descriptors_run_out(make_server):
    """With the total limit lifted, accept really fails with EMFILE: the server must pause
    accepting (NIO's AcceptBackoffHandler) rather than spin on a readable listener, log it
    (rate-limited), and serve /health again once the header timeout frees descriptors."""
    header_timeout = 4.0
    server = make_server("--http-header-timeout", str(header_timeout), "--max-connections", "100000",
                         "--http-max-connections-per-ip", "1000", preexec_fn=lowered_file_limit(256))
    result = _hold_under_low_file_limit(server, count=320, header_timeout=header_timeout)
    assert result["cpu_share"] < 0.05, result
    assert result["took"] < 2 * header_timeout + 4, result
    emfile = log_lines(server, r"accept failed")
    assert 1 <= len(emfile) <= 3, emfile
    assert health_once(server, timeout=5) == 200


# ---------------------------------------------------------------- graceful stop


@pytest.mark.parametrize("threads", [[], ["--threads", "2"]], ids=["shared-loops", "own-loops"])
def test_sigterm_stops_quietly_and_in_order(make_server, threads):
    """After HTTP traffic, with a room joined over an open WebSocket and a half-open HTTP
    connection: SIGTERM closes the WebSocket with 1001, exits 0 within seconds (the half-open
    connection does not hold the stop up) and prints no error or warning. With its own event
    loops (--threads) the room journal's completions used to hop onto stopped loops: "ERROR:
    Cannot schedule tasks on an EventLoop that has already shut down"."""
    server = make_server("--echo", *threads)
    raw_sign_up(server)
    assert health_once(server, timeout=5) == 200
    seated = seated_room(server, "stop")
    half_open = dial(server)
    half_open.sendall(HALF_HEAD)

    async def scenario() -> tuple[int, int | None, float]:
        peer = await RoomPeer.open(server, seated.host, seated.id)
        start = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(peer.phoenix.closed.wait(), timeout=10)
        code = await asyncio.to_thread(server.process.wait, 15)
        return code, peer.phoenix.ws.close_code, time.monotonic() - start

    code, close_code, took = asyncio.run(scenario())
    half_open.close()
    output = "".join(server.output)
    assert code == 0, output
    assert took < 8, f"shutdown took {took:.1f} s"
    assert close_code == 1001, f"the room socket should be closed with 1001 (going away), got {close_code!r}"
    bad = [line for line in server.output if re.search(r"error|warning|critical|fatal", line, re.IGNORECASE)]
    assert not bad, output
