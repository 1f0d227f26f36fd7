"""Backpressure (issue: WebSocket layer): a subscriber that never reads is disconnected, the
server's memory stays bounded, and every other subscriber still gets every broadcast.

Uses the transport's broadcast endpoint (`praxis serve --echo` serves /ws/broadcast): each
message any connection sends is framed once and written to every connection of the endpoint.
"""
from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import websockets

from conftest import start_server
from wsraw import handshake_request, new_key

MESSAGES = 10_000
PAYLOAD = 1024
FAST_SUBSCRIBERS = 3
MAX_PENDING = 1024 * 1024
# The publisher keeps at most this many messages ahead of the slowest fast subscriber, so only
# the subscriber that never reads can fall behind by more than MAX_PENDING.
WINDOW = 200
# Documented bound on what the slow consumer may cost the server: its queue limit plus the
# kernel's socket buffer, with headroom for allocator noise. Far below 10,000 × 1 KiB × 4.
RSS_GROWTH_BOUND = 48 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_slow_consumer(host: str, port: int) -> socket.socket:
    """A subscriber with a tiny receive buffer that completes the handshake and never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, port))
    request, _ = handshake_request(host, port, "/ws/broadcast", key=new_key())
    sock.sendall(request)
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        assert chunk, "connection closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def connection_ended(sock: socket.socket, timeout: float) -> bool:
    """Drains what the kernel buffered and reports whether the server ended the connection."""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


async def subscriber(url: str, ready: asyncio.Event, counts: list[int], index: int, done: asyncio.Event) -> list[int]:
    seen: list[int] = []
    async with websockets.connect(url, compression=None, max_size=None, max_queue=None, ping_interval=None) as ws:
        ready.set()
        async for message in ws:
            number = int(message[:8])
            seen.append(number)
            counts[index] += 1
            if len(seen) == MESSAGES:
                break
    if all(count >= MESSAGES for count in counts):
        done.set()
    return seen


async def run(server) -> tuple[list[list[int]], int]:
    url = f"{server.ws_url}/ws/broadcast"
    counts = [0] * FAST_SUBSCRIBERS
    readies = [asyncio.Event() for _ in range(FAST_SUBSCRIBERS)]
    done = asyncio.Event()
    tasks = [asyncio.create_task(subscriber(url, readies[i], counts, i, done)) for i in range(FAST_SUBSCRIBERS)]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 10)
    slow = open_slow_consumer(server.host, server.port)
    peak = rss_bytes(server.process.pid)
    async with websockets.connect(url, compression=None, max_size=None, max_queue=None, ping_interval=None) as publisher:
        async def drain():  # The publisher is a member too: it reads its own broadcasts.
            async for _ in publisher:
                pass
        draining = asyncio.create_task(drain())
        padding = "x" * (PAYLOAD - 8)
        for number in range(MESSAGES):
            await publisher.send(f"{number:08d}{padding}")
            if number % 100 == 0:
                deadline = time.monotonic() + 30
                while min(counts) < number - WINDOW and time.monotonic() < deadline:
                    await asyncio.sleep(0.001)
            if number % 500 == 0:
                peak = max(peak, rss_bytes(server.process.pid))
        results = await asyncio.wait_for(asyncio.gather(*tasks), 120)
        peak = max(peak, rss_bytes(server.process.pid))
        draining.cancel()
    ended = connection_ended(slow, 20)
    slow.close()
    assert ended, "the slow consumer was never disconnected"
    return results, peak


def test_slow_consumer_is_disconnected_and_others_get_everything(tmp_path: Path):
    server = start_server(
        tmp_path / "praxis.sqlite", "--echo", "--ws-max-messages-per-second", "1000000",
        "--ws-max-pending-bytes", str(MAX_PENDING), "--ws-slow-consumer-timeout", "2",
    )
    try:
        baseline = rss_bytes(server.process.pid)
        results, peak = asyncio.run(asyncio.wait_for(run(server), 180))
        for seen in results:
            assert seen == list(range(MESSAGES)), "a fast subscriber missed or reordered broadcasts"
        assert peak - baseline < RSS_GROWTH_BOUND, f"server RSS grew by {(peak - baseline) >> 20} MiB"
        # The server is still healthy and serving.
        with socket.create_connection((server.host, server.port), timeout=5) as probe:
            probe.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert probe.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


def test_graceful_shutdown_closes_websockets_with_1001(tmp_path: Path):
    server = start_server(tmp_path / "praxis.sqlite", "--echo")

    async def scenario() -> int | None:
        async with websockets.connect(f"{server.ws_url}/ws/echo", ping_interval=None) as ws:
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"
            server.process.send_signal(15)  # SIGTERM
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
        return None

    try:
        assert asyncio.run(scenario()) == 1001
        assert server.process.wait(timeout=15) == 0
    finally:
        server.stop()
