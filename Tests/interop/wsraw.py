"""A small raw-TCP WebSocket client for conformance tests (RFC 6455, RFC 7692).

Unlike a real client library it sends exactly the bytes a test asks for, including malformed frames:
explicit FIN/RSV/opcode/mask/payload, unmasked frames, oversized control frames, byte-by-byte writes.
It reads the server's frames strictly: a masked server frame, a non-minimal payload length or an
unexpected RSV bit is an assertion failure.

Every socket operation has a timeout of at most MAX_TIMEOUT seconds, every loop is bounded, and the
client only ever connects to 127.0.0.1.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOCALHOST = "127.0.0.1"
MAX_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 5.0
MAX_RESPONSE_HEAD = 64 * 1024
MAX_SERVER_FRAME = 64 * 1024 * 1024
MAX_FRAMES_PER_MESSAGE = 100_000

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
DATA_OPCODES = (OP_TEXT, OP_BINARY)
CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
RESERVED_OPCODES = (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)

# Close codes that must never appear on the wire (RFC 6455 section 7.4.1).
NEVER_ON_WIRE = frozenset({1005, 1006, 1015})

DEFLATE_TAIL = b"\x00\x00\xff\xff"


def _clamp(timeout: float | None) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT
    return max(0.001, min(float(timeout), MAX_TIMEOUT))


# ---------------------------------------------------------------- frames


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


def apply_mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def build_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False, rsv2: bool = False,
                rsv3: bool = False, mask: bool = True, mask_key: bytes | None = None) -> bytes:
    """One frame exactly as described: nothing is validated, so malformed frames are easy to build."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | (opcode & 0x0F)
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    assert len(key) == 4
    return head + key + apply_mask(payload, key)


def frame_header(opcode: int, length: int, *, fin: bool = True, rsv1: bool = False, mask_key: bytes = b"\x00\x00\x00\x00") -> bytes:
    """Only the header of a masked frame announcing `length` payload bytes (for 'header only' tests)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        return struct.pack("!BB", first, 0x80 | length) + mask_key
    if length < 1 << 16:
        return struct.pack("!BBH", first, 0x80 | 126, length) + mask_key
    return struct.pack("!BBQ", first, 0x80 | 127, length) + mask_key


def close_payload(code: int | None = None, reason: bytes | str = b"") -> bytes:
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    if code is None:
        return reason
    return struct.pack("!H", code) + reason


def fragments(opcode: int, payload: bytes, size: int, *, rsv1: bool = False) -> bytes:
    """A message split into frames of `size` payload bytes (first frame carries the opcode)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    assert size > 0
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    out = []
    for index, piece in enumerate(pieces):
        out.append(build_frame(opcode if index == 0 else OP_CONT, piece, fin=index == len(pieces) - 1,
                               rsv1=rsv1 and index == 0))
    return b"".join(out)


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    payload: bytes

    @property
    def is_control(self) -> bool:
        return self.opcode >= 0x8

    @property
    def close_code(self) -> int | None:
        assert self.opcode == OP_CLOSE
        if len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    @property
    def close_reason(self) -> bytes:
        assert self.opcode == OP_CLOSE
        return self.payload[2:]

    def describe(self) -> str:
        names = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
        name = names.get(self.opcode, f"op{self.opcode}")
        extra = f" code={self.close_code}" if self.opcode == OP_CLOSE else ""
        rsv = "".join(str(i + 1) for i, bit in enumerate((self.rsv1, self.rsv2, self.rsv3)) if bit)
        payload = self.payload if len(self.payload) <= 40 else self.payload[:40] + b"..."
        return f"<{name} fin={int(self.fin)}{' rsv' + rsv if rsv else ''}{extra} len={len(self.payload)} {payload!r}>"


def check_close_frame(frame: Frame) -> None:
    """RFC 6455 sections 5.5.1 and 7.4: what any close frame from the server must look like."""
    assert frame.opcode == OP_CLOSE
    assert frame.fin, "close frame from the server must not be fragmented"
    assert len(frame.payload) != 1, "a close payload of exactly 1 byte is invalid"
    assert len(frame.payload) <= 125, "control frame payload over 125 bytes"
    code = frame.close_code
    if code is not None:
        assert code not in NEVER_ON_WIRE, f"server sent reserved close code {code} on the wire"
        assert 1000 <= code <= 4999, f"server sent invalid close code {code}"
        try:
            frame.close_reason.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AssertionError(f"server close reason is not valid UTF-8: {frame.close_reason!r}") from error


# ---------------------------------------------------------------- permessage-deflate (RFC 7692)


def parse_extensions(header: str | None) -> list[tuple[str, dict[str, str | None]]]:
    """`a; x=1; y, b` → [("a", {"x": "1", "y": None}), ("b", {})] (names and parameters lowercased)."""
    result: list[tuple[str, dict[str, str | None]]] = []
    if not header:
        return result
    for item in header.split(","):
        parts = [part.strip() for part in item.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str | None] = {}
        for part in parts[1:]:
            if not part:
                continue
            if "=" in part:
                name, value = part.split("=", 1)
                params[name.strip().lower()] = value.strip().strip('"')
            else:
                params[part.lower()] = None
        result.append((parts[0].lower(), params))
    return result


class Deflater:
    """Client-side message compressor (RFC 7692 section 7.2.1)."""

    def __init__(self, window_bits: int = 15, no_context_takeover: bool = False):
        assert 9 <= window_bits <= 15
        self.window_bits = window_bits
        self.no_context_takeover = no_context_takeover
        self._obj = None

    def compress(self, data: bytes) -> bytes:
        if self._obj is None or self.no_context_takeover:
            self._obj = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.window_bits)
        out = self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(DEFLATE_TAIL)
        return out[:-4]


class Inflater:
    """Client-side decompressor for the server's messages (RFC 7692 section 7.2.2)."""

    def __init__(self, window_bits: int = 15, no_context_takeover: bool = False):
        assert 9 <= window_bits <= 15
        self.window_bits = window_bits
        self.no_context_takeover = no_context_takeover
        self._obj = None

    def decompress(self, data: bytes, limit: int = MAX_SERVER_FRAME) -> bytes:
        if self._obj is None or self.no_context_takeover:
            self._obj = zlib.decompressobj(-self.window_bits)
        try:
            out = self._obj.decompress(data + DEFLATE_TAIL, limit)
        except zlib.error as error:
            raise AssertionError(f"server sent a compressed message this client cannot inflate "
                                 f"(window_bits={self.window_bits}, "
                                 f"no_context_takeover={self.no_context_takeover}): {error}") from error
        assert not self._obj.unconsumed_tail, "inflated server message exceeds the test limit"
        return out


def compress_message(data: bytes, window_bits: int = 15) -> bytes:
    """A single message compressed with a fresh context (valid under any negotiated parameters)."""
    return Deflater(window_bits, no_context_takeover=True).compress(data)


# ---------------------------------------------------------------- HTTP upgrade


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        """All values of a header joined with ', ' (case-insensitive name), or None."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> list[str]:
        value = self.header(name)
        return [token.strip().lower() for token in value.split(",")] if value else []


def handshake_request(host: str, port: int, path: str = "/ws/echo", *, key: str | None = None, method: str = "GET",
                      headers: Mapping[str, str | None] | None = None) -> tuple[bytes, str]:
    """An upgrade request. `headers` adds or replaces headers (case-insensitive); a value None removes one."""
    key = key if key is not None else new_key()
    base: dict[str, str | None] = {
        "Host": f"{host}:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in (headers or {}).items():
        for existing in list(base):
            if existing.lower() == name.lower():
                del base[existing]
        base[name] = value
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in base.items() if value is not None]
    if method not in ("GET", "HEAD") and not any(name.lower() == "content-length" for name in base):
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def open_socket(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    assert host == LOCALHOST, f"tests only talk to {LOCALHOST}, not {host}"
    sock = socket.create_connection((host, port), timeout=_clamp(timeout))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(_clamp(timeout))
    return sock


def _read_response(sock: socket.socket, timeout: float) -> tuple[Response, bytes]:
    deadline = time.monotonic() + _clamp(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        assert len(data) <= MAX_RESPONSE_HEAD, "HTTP response head too large"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete HTTP response within {timeout}s, got {data!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except socket.timeout as error:
            raise TimeoutError(f"no complete HTTP response within {timeout}s, got {data!r}") from error
        if not chunk:
            raise AssertionError(f"connection closed before a complete HTTP response: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/1."), f"bad status line {lines[0]!r}"
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, head), rest


def upgrade(server, path: str = "/ws/echo", *, key: str | None = None, method: str = "GET",
            headers: Mapping[str, str | None] | None = None, raw_request: bytes | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> tuple[Response, "RawWebSocket"]:
    """Sends an upgrade request and reads the response head; returns it with the (still open) connection."""
    sock = open_socket(server.host, server.port, timeout)
    try:
        if raw_request is None:
            raw_request, key = handshake_request(server.host, server.port, path, key=key, method=method, headers=headers)
        sock.sendall(raw_request)
        response, rest = _read_response(sock, timeout)
    except BaseException:
        sock.close()
        raise
    ws = RawWebSocket(sock, rest, response)
    ws.key = key
    return response, ws


def upgrade_status(server, path: str = "/ws/echo", **kwargs) -> Response:
    """The response to an upgrade request; the connection is closed afterwards."""
    response, ws = upgrade(server, path, **kwargs)
    ws.close()
    return response


def connect(server, path: str = "/ws/echo", *, headers: Mapping[str, str | None] | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> "RawWebSocket":
    """A completed WebSocket handshake (asserts 101 and a correct Sec-WebSocket-Accept)."""
    response, ws = upgrade(server, path, headers=headers, timeout=timeout)
    try:
        assert response.status == 101, f"expected 101, got {response.status} {response.reason}: {response.raw!r}"
        assert response.header("Sec-WebSocket-Accept") == accept_for(ws.key), "wrong Sec-WebSocket-Accept"
    except BaseException:
        ws.close()
        raise
    return ws


# ---------------------------------------------------------------- connection


class ConnectionEnded(Exception):
    """The server ended the TCP connection (FIN, or RST when `reset` is true)."""

    def __init__(self, reset: bool, buffered: bytes):
        super().__init__("connection reset by server" if reset else "connection closed by server (EOF)")
        self.reset = reset
        self.buffered = buffered


@dataclass
class Message:
    opcode: int
    payload: bytes
    frames: list[Frame] = field(default_factory=list)

    @property
    def text(self) -> str:
        assert self.opcode == OP_TEXT
        return self.payload.decode("utf-8")


class RawWebSocket:
    """A client connection after the upgrade: send arbitrary bytes, read the server's frames."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"", response: Response | None = None):
        self.sock = sock
        self.buffer = bytearray(buffered)
        self.response = response
        self.key: str | None = None
        self.inflater: Inflater | None = None  # set when permessage-deflate was negotiated
        self.closed = False

    # -- sending

    def send_raw(self, data: bytes, *, chunk: int | None = None, delay: float = 0.0, tolerant: bool = False) -> bool:
        """Writes bytes, optionally in `chunk`-sized writes with `delay` seconds between them.

        With tolerant=True a write to a connection the server already closed returns False instead of raising
        (the server may legitimately close while a test is still sending the rest of a bad message).
        """
        self.sock.settimeout(MAX_TIMEOUT)
        try:
            if chunk is None:
                self.sock.sendall(data)
            else:
                assert chunk > 0
                for start in range(0, len(data), chunk):
                    self.sock.sendall(data[start:start + chunk])
                    if delay:
                        time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            if tolerant:
                return False
            raise
        return True

    def send_frame(self, opcode: int, payload: bytes | str = b"", *, chunk: int | None = None, delay: float = 0.0,
                   tolerant: bool = False, **frame_options) -> bool:
        return self.send_raw(build_frame(opcode, payload, **frame_options), chunk=chunk, delay=delay, tolerant=tolerant)

    def send_text(self, text: str | bytes, **options) -> bool:
        return self.send_frame(OP_TEXT, text, **options)

    def send_binary(self, data: bytes, **options) -> bool:
        return self.send_frame(OP_BINARY, data, **options)

    def ping(self, payload: bytes = b"", **options) -> bool:
        return self.send_frame(OP_PING, payload, **options)

    def pong(self, payload: bytes = b"", **options) -> bool:
        return self.send_frame(OP_PONG, payload, **options)

    def send_close(self, code: int | None = None, reason: bytes | str = b"", **options) -> bool:
        return self.send_frame(OP_CLOSE, close_payload(code, reason), **options)

    # -- receiving

    def _fill(self, n: int, deadline: float) -> None:
        while len(self.buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out waiting for data from the server ({len(self.buffer)}/{n} bytes buffered)")
            self.sock.settimeout(min(remaining, MAX_TIMEOUT))
            try:
                chunk = self.sock.recv(max(65536, min(n - len(self.buffer), 1 << 20)))
            except socket.timeout as error:
                raise TimeoutError(f"timed out waiting for data from the server "
                                   f"({len(self.buffer)}/{n} bytes buffered)") from error
            except (ConnectionResetError, ConnectionAbortedError) as error:
                raise ConnectionEnded(True, bytes(self.buffer)) from error
            if not chunk:
                raise ConnectionEnded(False, bytes(self.buffer))
            self.buffer += chunk

    def recv_frame(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame from the server. Raises TimeoutError, or ConnectionEnded on EOF/reset."""
        deadline = time.monotonic() + _clamp(timeout)
        self._fill(2, deadline)
        first, second = self.buffer[0], self.buffer[1]
        masked = bool(second & 0x80)
        length = second & 0x7F
        offset = 2
        if length == 126:
            self._fill(4, deadline)
            length = struct.unpack("!H", self.buffer[2:4])[0]
            offset = 4
            assert length >= 126, f"server used a non-minimal 16-bit length for {length} bytes (RFC 6455 5.2)"
        elif length == 127:
            self._fill(10, deadline)
            length = struct.unpack("!Q", self.buffer[2:10])[0]
            offset = 10
            assert length >> 63 == 0, "server set the most significant bit of a 64-bit length"
            assert length >= 1 << 16, f"server used a non-minimal 64-bit length for {length} bytes (RFC 6455 5.2)"
        assert length <= MAX_SERVER_FRAME, f"server frame of {length} bytes is larger than this client accepts"
        mask_key = b""
        if masked:
            self._fill(offset + 4, deadline)
            mask_key = bytes(self.buffer[offset:offset + 4])
            offset += 4
        self._fill(offset + length, deadline)
        payload = bytes(self.buffer[offset:offset + length])
        del self.buffer[:offset + length]
        if masked:
            payload = apply_mask(payload, mask_key)
        frame = Frame(bool(first & 0x80), bool(first & 0x40), bool(first & 0x20), bool(first & 0x10), first & 0x0F,
                      masked, payload)
        assert not frame.masked, f"server frame is masked (RFC 6455 5.1): {frame.describe()}"
        assert not frame.rsv2 and not frame.rsv3, f"server set RSV2/RSV3: {frame.describe()}"
        assert frame.opcode in (OP_CONT, *DATA_OPCODES, *CONTROL_OPCODES), f"server sent a reserved opcode: {frame.describe()}"
        if frame.is_control:
            assert frame.fin, f"server fragmented a control frame: {frame.describe()}"
            assert len(frame.payload) <= 125, f"server control frame over 125 bytes: {frame.describe()}"
            assert not frame.rsv1, f"server set RSV1 on a control frame: {frame.describe()}"
        if frame.opcode == OP_CONT:
            assert not frame.rsv1, f"server set RSV1 on a continuation frame: {frame.describe()}"
        if frame.rsv1:
            assert self.inflater is not None, f"server set RSV1 without a negotiated extension: {frame.describe()}"
        if frame.opcode == OP_CLOSE:
            check_close_frame(frame)
        return frame

    def recv_message(self, timeout: float = DEFAULT_TIMEOUT, *, answer_pings: bool = False) -> Message:
        """The next complete data message (fragments reassembled, compressed messages inflated).

        Pings from the server are skipped (answered when answer_pings is true). A pong or a close frame
        here is an assertion failure that shows what arrived instead.
        """
        deadline = time.monotonic() + _clamp(timeout)
        frames: list[Frame] = []
        for _ in range(MAX_FRAMES_PER_MESSAGE):
            frame = self.recv_frame(max(0.001, deadline - time.monotonic()))
            if frame.opcode == OP_PING:
                if answer_pings:
                    self.pong(frame.payload)
                continue
            assert frame.opcode not in (OP_CLOSE, OP_PONG), f"expected a data message, got {frame.describe()}"
            if not frames:
                assert frame.opcode in DATA_OPCODES, f"server sent a continuation without a message: {frame.describe()}"
            else:
                assert frame.opcode == OP_CONT, f"server interleaved a new message into a fragmented one: {frame.describe()}"
            frames.append(frame)
            if frame.fin:
                payload = b"".join(f.payload for f in frames)
                if frames[0].rsv1:
                    assert self.inflater is not None
                    payload = self.inflater.decompress(payload)
                message = Message(frames[0].opcode, payload, frames)
                if message.opcode == OP_TEXT:
                    try:
                        payload.decode("utf-8")
                    except UnicodeDecodeError as error:
                        raise AssertionError("server sent a text message that is not valid UTF-8") from error
                return message
        raise AssertionError(f"more than {MAX_FRAMES_PER_MESSAGE} frames in one message")

    def recv_control(self, opcode: int, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """The next frame, which must be a control frame of `opcode` (server pings are skipped unless asked for)."""
        deadline = time.monotonic() + _clamp(timeout)
        for _ in range(1000):
            frame = self.recv_frame(max(0.001, deadline - time.monotonic()))
            if frame.opcode == OP_PING and opcode != OP_PING:
                continue
            assert frame.opcode == opcode, f"expected opcode {opcode}, got {frame.describe()}"
            return frame
        raise AssertionError("too many server pings")

    def assert_silent(self, duration: float) -> None:
        """Nothing but server pings arrives for `duration` seconds (and the connection stays open)."""
        deadline = time.monotonic() + _clamp(duration)
        for _ in range(1000):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                frame = self.recv_frame(remaining)
            except TimeoutError:
                return
            assert frame.opcode == OP_PING, f"expected silence, got {frame.describe()}"
        raise AssertionError("too many server pings")

    def echo(self, opcode: int, payload: bytes | str, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Sends one unfragmented message and returns the echoed message (asserting type and content)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        self.send_frame(opcode, payload)
        message = self.recv_message(timeout)
        assert message.opcode == opcode, f"echo has opcode {message.opcode}, sent {opcode}"
        assert message.payload == payload, "echo differs from the message sent"
        return message

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def __enter__(self) -> "RawWebSocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- assertions


def expect_eof(ws: RawWebSocket, timeout: float = DEFAULT_TIMEOUT, *, allow_reset: bool = True) -> None:
    """The server ends the TCP connection within `timeout` seconds and sends nothing more before it.

    A reset counts as the end of the connection when allow_reset is true: a server that fails a connection
    while the client's unread bytes are still in its receive buffer makes the kernel send RST instead of FIN.
    """
    deadline = time.monotonic() + _clamp(timeout)
    try:
        ws._fill(1, deadline)
    except ConnectionEnded as ended:
        assert not ended.buffered, f"unexpected bytes before the end of the connection: {ended.buffered[:60]!r}"
        assert allow_reset or not ended.reset, "server reset the connection instead of closing it cleanly"
        return
    except TimeoutError as error:
        raise AssertionError(f"server did not close the TCP connection within {timeout}s") from error
    try:
        extra = ws.recv_frame(0.5).describe()
    except Exception:  # noqa: BLE001 - only for the message
        extra = repr(bytes(ws.buffer[:60]))
    raise AssertionError(f"server sent data after its close frame instead of closing TCP: {extra}")


def expect_close(ws: RawWebSocket, code: int | Collection[int] | None, *, timeout: float = DEFAULT_TIMEOUT,
                 eof_timeout: float = DEFAULT_TIMEOUT, allow_data: bool = False, allow_reset: bool = True,
                 eof: bool = True) -> Frame:
    """Asserts that a close frame with `code` arrives (code None: an empty close payload), then EOF.

    Server pings before the close are skipped; data messages too when allow_data is true, anything else
    before the close fails. The client does not answer the close: the server must end TCP by itself.
    """
    expected = {code} if code is None or isinstance(code, int) else set(code)
    deadline = time.monotonic() + _clamp(timeout)
    seen: list[str] = []
    for _ in range(MAX_FRAMES_PER_MESSAGE):
        try:
            frame = ws.recv_frame(max(0.001, deadline - time.monotonic()))
        except TimeoutError as error:
            raise AssertionError(f"no close frame (expected {sorted(expected, key=str)}) within {timeout}s; "
                                 f"frames before: {seen[-5:]}") from error
        except ConnectionEnded as error:
            raise AssertionError(f"server ended the connection ({error}) without a close frame "
                                 f"(expected {sorted(expected, key=str)}); frames before: {seen[-5:]}") from error
        if frame.opcode == OP_CLOSE:
            assert frame.close_code in expected, (
                f"expected close code {sorted(expected, key=str)}, got {frame.close_code} "
                f"(reason {frame.close_reason!r}); frames before: {seen[-5:]}")
            if eof:
                expect_eof(ws, eof_timeout, allow_reset=allow_reset)
            return frame
        if frame.opcode == OP_PING or (allow_data and frame.opcode in (OP_CONT, *DATA_OPCODES)):
            seen.append(frame.describe())
            continue
        raise AssertionError(f"expected a close frame {sorted(expected, key=str)}, got {frame.describe()}")
    raise AssertionError("too many frames before the close frame")


def wait_until(predicate, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.05):
    """Polls `predicate` until it returns a truthy value (bounded by `timeout`); returns the last value."""
    deadline = time.monotonic() + _clamp(timeout)
    value = predicate()
    for _ in range(100_000):
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
        value = predicate()
    return value


def utf8_text(nbytes: int, alphabet: Iterable[str] = ("a", "κ", "ό", "€", "\U0001F600", " ", "z", "\u00e9")) -> bytes:
    """Valid UTF-8 of exactly `nbytes` bytes mixing 1- to 4-byte characters (padded with ASCII)."""
    pattern = "".join(alphabet).encode("utf-8")
    out = bytearray(pattern * (nbytes // len(pattern)))
    for char in alphabet:
        encoded = char.encode("utf-8")
        if len(out) + len(encoded) > nbytes:
            break
        out += encoded
    out += b"." * (nbytes - len(out))
    assert len(out) == nbytes
    return bytes(out)
