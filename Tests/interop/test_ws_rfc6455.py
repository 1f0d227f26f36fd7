"""RFC 6455 conformance of the WebSocket echo endpoint `/ws/echo` (`praxis serve --echo`).

A raw-socket client (wsraw.py) sends exact, often malformed, frames and checks the server's answer byte by
byte. The cases follow the Autobahn|Testsuite families named in each docstring. Every failure case asserts
both halves of "Fail the WebSocket Connection" (RFC 6455 section 7.1.7): a close frame with the expected
code arrives, and then the server ends the TCP connection within a few seconds without the client answering.
"""
from __future__ import annotations

import asyncio
import random
import time

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect

import wsraw
from conftest import start_server
from wsraw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RESERVED_OPCODES,
    ConnectionEnded,
    build_frame,
    close_payload,
    connect,
    expect_close,
    expect_eof,
    fragments,
    frame_header,
    upgrade,
    upgrade_status,
    utf8_text,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

LIMIT = 65536  # --ws-max-message-bytes of the `limited_server` fixture
KOSME = "κόσμε".encode("utf-8")  # b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"


def randbytes(n: int, seed: int = 6455) -> bytes:
    return random.Random(seed).randbytes(n)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    """One echo server for the stateless cases (default limits, short close timeout)."""
    srv = start_server(tmp_path_factory.mktemp("ws-echo") / "praxis.sqlite", "--echo", "--ws-close-timeout", "2")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    """An echo server with --ws-max-message-bytes 65536."""
    srv = start_server(tmp_path_factory.mktemp("ws-limited") / "praxis.sqlite", "--echo",
                       "--ws-max-message-bytes", str(LIMIT), "--ws-close-timeout", "2")
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path):
    """Starts a dedicated server with extra `praxis serve` flags (for options that change global state)."""
    servers = []

    def make(*args: str):
        srv = start_server(tmp_path / f"praxis-{len(servers)}.sqlite", *args)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def ws(echo_server):
    """An open raw connection to /ws/echo; afterwards the server must still be running."""
    conn = connect(echo_server)
    yield conn
    conn.close()
    assert echo_server.process.poll() is None, "the server process died:\n" + "".join(echo_server.output[-30:])


@pytest.fixture
def limited(limited_server):
    conn = connect(limited_server)
    yield conn
    conn.close()
    assert limited_server.process.poll() is None, "the server process died"


# ---------------------------------------------------------------- 4. opening handshake


def test_4_2_2_accept_matches_rfc_example_and_headers(echo_server):
    """Sec-WebSocket-Accept is SHA-1(key + GUID), here the RFC 6455 section 1.3 example; Autobahn 1.1.1 preamble."""
    response, ws = upgrade(echo_server, key="dGhlIHNhbXBsZSBub25jZQ==")
    with ws:
        assert response.status == 101, response.raw
        assert response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert response.header("Upgrade").lower() == "websocket"
        assert "upgrade" in response.tokens("Connection")
        assert response.header("Sec-WebSocket-Extensions") is None, "no extension was offered"
        assert response.header("Sec-WebSocket-Protocol") is None, "no subprotocol was offered"
        ws.echo(OP_TEXT, "after the handshake")


def test_4_2_2_accept_for_random_keys(echo_server):
    """Every key gets its own correct accept value (not a cached one)."""
    for _ in range(5):
        response, ws = upgrade(echo_server)
        with ws:
            assert response.status == 101
            assert response.header("Sec-WebSocket-Accept") == wsraw.accept_for(ws.key)


@pytest.mark.parametrize("headers", [
    {"Upgrade": "WebSocket"},
    {"Upgrade": "WEBSOCKET", "Connection": "upgrade"},
    {"Connection": "keep-alive, Upgrade"},
], ids=["upgrade-mixed-case", "all-case-variants", "connection-token-list"])
def test_4_2_1_header_tokens_are_case_insensitive(echo_server, headers):
    """Upgrade/Connection values are case-insensitive tokens; Connection may be a list (as Firefox sends it)."""
    with connect(echo_server, headers=headers) as ws:
        ws.echo(OP_TEXT, "ok")


def test_4_2_2_no_subprotocol_selected_when_endpoint_has_none(echo_server):
    """The echo endpoint speaks no subprotocol, so it must not select one of the offered ones."""
    response, ws = upgrade(echo_server, headers={"Sec-WebSocket-Protocol": "chat, superchat"})
    with ws:
        assert response.status == 101
        assert response.header("Sec-WebSocket-Protocol") is None
        ws.echo(OP_TEXT, "no subprotocol")


def test_4_2_1_missing_key_is_400(echo_server):
    assert upgrade_status(echo_server, headers={"Sec-WebSocket-Key": None}).status == 400


@pytest.mark.parametrize("key", [
    "not base64 at all!",
    "AAECAwQFBgcICQoLDA0O",          # base64 of 15 bytes
    "AAECAwQFBgcICQoLDA0ODxA=",      # base64 of 17 bytes
    "AAECAwQFBgcICQoLDA0ODw",        # 16 bytes without padding
    "",
], ids=["not-base64", "15-bytes", "17-bytes", "no-padding", "empty"])
def test_4_2_1_bad_key_is_400(echo_server, key):
    """Sec-WebSocket-Key must be the base64 encoding of exactly 16 bytes."""
    assert upgrade_status(echo_server, headers={"Sec-WebSocket-Key": key}).status == 400


def test_4_2_1_missing_upgrade_header_is_400(echo_server):
    assert upgrade_status(echo_server, headers={"Upgrade": None}).status == 400


def test_4_2_1_upgrade_header_not_websocket_is_400(echo_server):
    assert upgrade_status(echo_server, headers={"Upgrade": "h2c"}).status == 400


def test_4_2_1_missing_connection_upgrade_is_400(echo_server):
    """Connection must contain the token `Upgrade` (RFC 6455 section 4.2.1 item 4)."""
    assert upgrade_status(echo_server, headers={"Connection": None}).status == 400
    assert upgrade_status(echo_server, headers={"Connection": "keep-alive"}).status == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_4_2_1_non_get_upgrade_is_400(echo_server, method):
    """The opening handshake must be a GET."""
    assert upgrade_status(echo_server, method=method).status == 400


@pytest.mark.parametrize("version", ["8", "12", "14"])
def test_4_4_unsupported_version_is_426_with_version_header(echo_server, version):
    """A version other than 13 gets 426 Upgrade Required and `Sec-WebSocket-Version: 13`."""
    response = upgrade_status(echo_server, headers={"Sec-WebSocket-Version": version})
    assert response.status == 426
    assert "13" in response.tokens("Sec-WebSocket-Version")


def test_4_2_1_missing_version_is_rejected(echo_server):
    """No Sec-WebSocket-Version at all is not a valid opening handshake (400, or 426 as for a wrong version)."""
    response = upgrade_status(echo_server, headers={"Sec-WebSocket-Version": None})
    assert response.status in (400, 426)
    if response.status == 426:
        assert "13" in response.tokens("Sec-WebSocket-Version")


def test_4_2_1_unknown_ws_path_is_404(echo_server):
    assert upgrade_status(echo_server, "/ws/does-not-exist").status == 404


def test_4_2_1_echo_endpoint_needs_echo_flag(make_server):
    """Without `--echo` there is no /ws/echo: the upgrade gets 404."""
    srv = make_server()
    assert upgrade_status(srv).status == 404


def test_10_2_any_origin_allowed_by_default(echo_server):
    """The origin allow-list is off by default."""
    with connect(echo_server, headers={"Origin": "https://evil.example"}) as ws:
        ws.echo(OP_TEXT, "any origin")


def test_10_2_origin_allow_list(make_server):
    """--ws-allowed-origins: an Origin not in the list gets 403; listed origins and no Origin get 101."""
    srv = make_server("--echo", "--ws-allowed-origins", "https://good.example,https://other.example")
    for origin in ("https://evil.example", "http://good.example", "https://good.example.evil.example",
                   "https://good.example:8443", "null"):
        assert upgrade_status(srv, headers={"Origin": origin}).status == 403, origin
    for origin in ("https://good.example", "https://other.example", None):
        with connect(srv, headers={"Origin": origin}) as ws:
            ws.echo(OP_TEXT, f"from {origin}")


async def test_4_1_websockets_client_echo(echo_server):
    """A real client library (websockets, no compression) completes the handshake and echoes."""
    async with ws_connect(echo_server.ws_url + "/ws/echo", compression=None, proxy=None, open_timeout=5,
                          close_timeout=5, ping_interval=None) as client:
        await client.send("hello")
        assert await asyncio.wait_for(client.recv(), 5) == "hello"
        await client.send(b"\x00\x01\xff")
        assert await asyncio.wait_for(client.recv(), 5) == b"\x00\x01\xff"
    assert client.close_code == 1000


# ---------------------------------------------------------------- 5.1-5.3 framing, masking, RSV, opcodes


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 128, 65535, 65536, 65537])
def test_5_6_message_echoed_with_same_type(ws, opcode, size):
    """Autobahn 1.1.x/1.2.x: payload lengths around the 7/16/64-bit boundaries; echo is unmasked, RSV clear."""
    payload = utf8_text(size) if opcode == OP_TEXT else randbytes(size, size)
    message = ws.echo(opcode, payload)
    for frame in message.frames:
        assert not frame.masked and not frame.rsv1


@pytest.mark.parametrize("size,chunk", [(65536, 997), (300, 1)], ids=["65536-in-997-byte-writes", "300-byte-by-byte"])
def test_5_6_frame_split_across_tcp_writes(ws, size, chunk):
    """Autobahn 1.1.8/1.2.8: one frame written in small TCP chunks is echoed whole."""
    for opcode, payload in ((OP_TEXT, utf8_text(size)), (OP_BINARY, randbytes(size))):
        ws.send_frame(opcode, payload, chunk=chunk, delay=0.0005 if chunk == 1 else 0.0)
        message = ws.recv_message()
        assert (message.opcode, message.payload) == (opcode, payload)


def test_5_6_many_frames_in_one_tcp_write(ws):
    """Frames coalesced into one TCP write are each echoed, in order."""
    payloads = [f"message {i}".encode() for i in range(20)]
    ws.send_raw(b"".join(build_frame(OP_TEXT if i % 2 else OP_BINARY, p) for i, p in enumerate(payloads)))
    for i, payload in enumerate(payloads):
        message = ws.recv_message()
        assert (message.opcode, message.payload) == (OP_TEXT if i % 2 else OP_BINARY, payload)


def test_5_1_server_frames_are_never_masked(ws):
    """RFC 6455 5.1: a server MUST NOT mask any frames (checked on every echoed frame and the pong)."""
    message = ws.echo(OP_BINARY, randbytes(1000))
    assert all(not frame.masked for frame in message.frames)
    ws.ping(b"mask?")
    assert not ws.recv_control(OP_PONG).masked


def test_5_3_all_zero_masking_key_is_valid(ws):
    """A masking key of four zero bytes is still a masked frame."""
    ws.send_frame(OP_TEXT, "zero key", mask_key=b"\x00\x00\x00\x00")
    assert ws.recv_message().payload == b"zero key"


@pytest.mark.parametrize("opcode,payload", [
    (OP_TEXT, b"Hello"), (OP_BINARY, b"\x01\x02"), (OP_PING, b"ping"), (OP_CLOSE, close_payload(1000)),
], ids=["text", "binary", "ping", "close"])
def test_5_2_unmasked_client_frame_closes_1002(ws, opcode, payload):
    """RFC 6455 5.1/5.2: a server MUST close on an unmasked client frame (Autobahn-style framing case)."""
    ws.send_frame(opcode, payload, mask=False)
    expect_close(ws, 1002)


RSV_CASES = [
    ("rsv1-text", OP_TEXT, b"Hello", (True, False, False)),
    ("rsv2-text", OP_TEXT, b"Hello", (False, True, False)),
    ("rsv3-text", OP_TEXT, b"Hello", (False, False, True)),
    ("rsv1-binary", OP_BINARY, b"\x00\xff", (True, False, False)),
    ("rsv13-binary", OP_BINARY, b"\x00\xff", (True, False, True)),
    ("rsv1-ping", OP_PING, b"ping", (True, False, False)),
    ("rsv2-ping", OP_PING, b"ping", (False, True, False)),
    ("rsv3-ping", OP_PING, b"ping", (False, False, True)),
    ("rsv23-pong", OP_PONG, b"", (False, True, True)),
    ("rsv123-close", OP_CLOSE, close_payload(1000), (True, True, True)),
]


@pytest.mark.parametrize("opcode,payload,rsv", [case[1:] for case in RSV_CASES], ids=[case[0] for case in RSV_CASES])
def test_5_2_rsv_bit_without_extension_closes_1002(ws, opcode, payload, rsv):
    """Autobahn 3.1-3.7: no extension was negotiated, so any RSV bit fails the connection."""
    ws.send_frame(opcode, payload, rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2])
    expect_close(ws, 1002)


def test_5_2_rsv_bit_after_valid_message_closes_1002(ws):
    """Autobahn 3.2: after a valid echoed message, an RSV frame fails the connection; the ping sent right
    behind it in the same TCP write is not answered."""
    ws.echo(OP_TEXT, b"Hello")
    ws.send_raw(build_frame(OP_TEXT, b"Hello", rsv2=True) + build_frame(OP_PING, b"too late"))
    expect_close(ws, 1002)


def test_5_2_rsv_bit_frame_sent_byte_by_byte_closes_1002(ws):
    """Autobahn 3.3 (chopped): the same with the frames written one byte at a time."""
    ws.send_raw(build_frame(OP_TEXT, b"Hello"), chunk=1, delay=0.001)
    assert ws.recv_message().payload == b"Hello"
    ws.send_raw(build_frame(OP_TEXT, b"Hello", rsv3=True) + build_frame(OP_PING, b"x"), chunk=1, delay=0.001,
                tolerant=True)
    expect_close(ws, 1002)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES)
def test_5_2_reserved_opcode_closes_1002(ws, opcode):
    """Autobahn 4.1.x/4.2.x: reserved non-control (3-7) and control (11-15) opcodes."""
    ws.send_frame(opcode, b"reserved")
    expect_close(ws, 1002)


@pytest.mark.parametrize("opcode", [5, 13])
def test_5_2_reserved_opcode_after_valid_message_closes_1002(ws, opcode):
    """Autobahn 4.1.3/4.2.3: text echoed, reserved opcode fails, the ping right behind it is unanswered."""
    ws.echo(OP_TEXT, b"Hello")
    ws.send_raw(build_frame(opcode, b"") + build_frame(OP_PING, b"late"))
    expect_close(ws, 1002)


# ---------------------------------------------------------------- 5.4 fragmentation


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("pieces", [
    [b"fragment1", b"fragment2"],
    [b"a", b"", b"b"],
    [b"", b"abc"],
    [b"abc", b""],
    [b"", b""],
    [b"x"] * 10,
], ids=["two", "empty-middle", "empty-first", "empty-last", "all-empty", "ten"])
def test_5_4_fragmented_message_echoed_whole(ws, opcode, pieces):
    """Autobahn 5.3-5.5, 5.15-5.20: fragments (including empty ones) form one message, echoed as one."""
    frames = [build_frame(opcode if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1) for i, piece in enumerate(pieces)]
    ws.send_raw(b"".join(frames))
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (opcode, b"".join(pieces))


@pytest.mark.parametrize("chunk", [None, 1], ids=["one-write", "byte-by-byte"])
def test_5_4_ping_between_fragments_answered_and_message_whole(ws, chunk):
    """Autobahn 5.6-5.8: a ping inside a fragmented message is answered; the message is still echoed whole."""
    data = (build_frame(OP_TEXT, b"fragment1", fin=False) + build_frame(OP_PING, b"ping payload")
            + build_frame(OP_CONT, b"fragment2"))
    ws.send_raw(data, chunk=chunk, delay=0.0005 if chunk else 0.0)
    assert ws.recv_control(OP_PONG).payload == b"ping payload"
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (OP_TEXT, b"fragment1fragment2")


def test_5_4_pong_between_fragments_ignored_and_message_whole(ws):
    """Autobahn 5.5: an unsolicited pong inside a fragmented message changes nothing."""
    ws.send_raw(build_frame(OP_BINARY, b"\x01", fin=False) + build_frame(OP_PONG, b"unsolicited")
                + build_frame(OP_CONT, b"\x02", fin=False) + build_frame(OP_CONT, b"\x03"))
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (OP_BINARY, b"\x01\x02\x03")


@pytest.mark.parametrize("frames", [
    [(OP_CONT, b"orphan", True)],
    [(OP_CONT, b"orphan", False), (OP_CONT, b"end", True)],
    [(OP_CONT, b"orphan", False), (OP_TEXT, b"text", True)],
], ids=["cont-fin", "cont-nofin", "cont-then-text"])
def test_5_4_continuation_without_started_message_closes_1002(ws, frames):
    """Autobahn 5.9-5.14: a continuation frame with no message in progress."""
    ws.send_raw(b"".join(build_frame(op, payload, fin=fin) for op, payload, fin in frames), tolerant=True)
    expect_close(ws, 1002)


def test_5_4_continuation_after_completed_message_closes_1002(ws):
    """Autobahn 5.9 variant: the first message is complete (echoed), the stray continuation fails."""
    ws.echo(OP_TEXT, b"complete")
    ws.send_frame(OP_CONT, b"stray")
    expect_close(ws, 1002)


@pytest.mark.parametrize("first,second", [
    (OP_TEXT, OP_TEXT), (OP_TEXT, OP_BINARY), (OP_BINARY, OP_TEXT), (OP_BINARY, OP_BINARY),
], ids=["text-text", "text-binary", "binary-text", "binary-binary"])
@pytest.mark.parametrize("second_fin", [True, False], ids=["fin", "nofin"])
def test_5_4_new_data_frame_during_fragmented_message_closes_1002(ws, first, second, second_fin):
    """Autobahn 5.17-5.20 family: a new text/binary frame while a fragmented message is in progress."""
    ws.send_raw(build_frame(first, b"start", fin=False) + build_frame(second, b"intruder", fin=second_fin))
    expect_close(ws, 1002)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_5_4_ten_thousand_fragments_echoed_whole(ws, opcode):
    """Autobahn 5.x at scale: 10,000 two-byte fragments (splitting UTF-8 characters) make one message."""
    payload = utf8_text(20_000) if opcode == OP_TEXT else randbytes(20_000)
    ws.send_raw(fragments(opcode, payload, 2))
    message = ws.recv_message(timeout=10)
    assert (message.opcode, message.payload) == (opcode, payload)


# ---------------------------------------------------------------- 5.5 control frames


@pytest.mark.parametrize("payload", [
    b"", b"Hello, world!", bytes(range(125)), b"\xfe" * 125, b"\x00\xff\xce",
], ids=["empty", "text", "125-binary", "125-fe", "binary"])
def test_5_5_2_ping_answered_with_same_payload(ws, payload):
    """Autobahn 2.1-2.4: pong carries the ping's application data exactly."""
    ws.ping(payload)
    pong = ws.recv_control(OP_PONG)
    assert pong.payload == payload and pong.fin


def test_5_5_2_ping_written_byte_by_byte(ws):
    """Autobahn 2.6: a 125-byte ping chopped into single-byte TCP writes."""
    payload = bytes(range(125))
    ws.ping(payload, chunk=1, delay=0.0005)
    assert ws.recv_control(OP_PONG).payload == payload


def test_5_5_2_pings_in_one_write_answered_in_order(ws):
    """Autobahn 2.10/2.11: ten pings; pongs come in order and the last ping is answered (RFC 5.5.3 lets a
    server skip pongs for pings it has not yet answered, but never reorder them)."""
    payloads = [f"ping-{i}".encode() for i in range(10)]
    ws.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads) + build_frame(OP_TEXT, b"end"))
    answered: list[int] = []
    for _ in range(50):
        frame = ws.recv_frame()
        if frame.opcode == OP_PONG:
            assert frame.payload in payloads, f"pong with an unknown payload {frame.payload!r}"
            answered.append(payloads.index(frame.payload))
            continue
        if frame.opcode == OP_PING:
            continue
        assert (frame.opcode, frame.payload) == (OP_TEXT, b"end"), frame.describe()
        break
    else:
        pytest.fail("no echo after the pings")
    assert answered and answered[-1] == 9, answered
    assert answered == sorted(set(answered)), answered


@pytest.mark.parametrize("payload", [b"", b"unsolicited pong"], ids=["empty", "payload"])
def test_5_5_3_unsolicited_pong_is_ignored(ws, payload):
    """Autobahn 2.7/2.8: an unsolicited pong gets no answer; the connection keeps working."""
    ws.pong(payload)
    ws.echo(OP_TEXT, "still echoing")


@pytest.mark.parametrize("opcode,payload", [
    (OP_PING, b"x" * 126),
    (OP_PONG, b"x" * 126),
    (OP_PING, b"x" * 1000),
    (OP_CLOSE, close_payload(1000, b"r" * 124)),
], ids=["ping-126", "pong-126", "ping-1000", "close-126"])
def test_5_5_control_frame_payload_over_125_closes_1002(ws, opcode, payload):
    """Autobahn 2.5 / 7.3.6: control frames carry at most 125 payload bytes."""
    ws.send_frame(opcode, payload)
    expect_close(ws, 1002)


@pytest.mark.parametrize("opcode,payload", [
    (OP_PING, b"fragmented ping"), (OP_PONG, b"fragmented pong"), (OP_CLOSE, close_payload(1000)),
], ids=["ping", "pong", "close"])
def test_5_5_fragmented_control_frame_closes_1002(ws, opcode, payload):
    """Autobahn 5.1/5.2: control frames MUST NOT be fragmented (FIN=0 on a control frame)."""
    ws.send_raw(build_frame(opcode, payload[:5], fin=False) + build_frame(OP_CONT, payload[5:]), tolerant=True)
    expect_close(ws, 1002)


# ---------------------------------------------------------------- 5.5.1 / 7 closing


@pytest.mark.parametrize("reason", [b"", b"bye", KOSME, b"r" * 123], ids=["no-reason", "ascii", "utf8", "123-bytes"])
def test_5_5_1_close_1000_answered_with_1000_and_tcp_closed(ws, reason):
    """Autobahn 7.1.1, 7.3.3-7.3.5: the server answers 1000 and then closes TCP itself (cleanly, FIN)."""
    ws.echo(OP_TEXT, "Hello World")
    ws.send_close(1000, reason)
    expect_close(ws, 1000, allow_reset=False)


def test_5_5_1_empty_close_answered(ws):
    """Autobahn 7.3.1: an empty close is answered with an empty close or 1000 (never 1005 on the wire)."""
    ws.send_close()
    expect_close(ws, {None, 1000}, allow_reset=False)


def test_5_5_1_one_byte_close_payload_closes_1002(ws):
    """Autobahn 7.3.2: a close payload of one byte cannot hold a status code."""
    ws.send_frame(OP_CLOSE, b"\x03")
    expect_close(ws, 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_7_4_invalid_close_code_closes_1002(ws, code):
    """Autobahn 7.9.x: reserved, unassigned and out-of-range status codes are a protocol error."""
    ws.send_close(code)
    expect_close(ws, 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                  3000, 3999, 4000, 4999])
def test_7_4_valid_close_code_echoed(ws, code):
    """Autobahn 7.7.x: valid codes (including registered 1012-1014 and 3000-4999) are answered with the same code."""
    ws.send_close(code, b"reason")
    expect_close(ws, code, allow_reset=False)


def test_5_5_1_close_reason_invalid_utf8_closes_1007(ws):
    """Autobahn 7.5.1: the close reason must be valid UTF-8."""
    ws.send_close(1000, KOSME + b"\xed\xa0\x80edited")
    expect_close(ws, 1007)


@pytest.mark.parametrize("after", [
    build_frame(OP_TEXT, b"after close"),
    build_frame(OP_BINARY, b"\x00after"),
    build_frame(OP_PING, b"after close"),
    build_frame(OP_CLOSE, close_payload(1001)),
    build_frame(OP_TEXT, b"frag", fin=False) + build_frame(OP_CONT, b"ment"),
], ids=["text", "binary", "ping", "second-close", "fragments"])
def test_5_5_1_frames_after_client_close_are_ignored(ws, after):
    """Autobahn 7.1.2-7.1.5: after the client's close, later frames get no echo, no pong, no second close."""
    ws.send_raw(build_frame(OP_CLOSE, close_payload(1000)) + after)
    expect_close(ws, 1000)


def test_7_1_7_server_ends_tcp_when_peer_never_answers_close(make_server):
    """--ws-close-timeout: after the server's close frame, a peer that never answers is disconnected anyway."""
    srv = make_server("--echo", "--ws-close-timeout", "1")
    with connect(srv) as ws:
        ws.send_frame(OP_TEXT, b"unmasked", mask=False)
        assert ws.recv_control(OP_CLOSE).close_code == 1002
        started = time.monotonic()
        expect_eof(ws, timeout=4)
        assert time.monotonic() - started < 3.5


# ---------------------------------------------------------------- 8.1 UTF-8


VALID_UTF8 = {
    "ascii-mixed": "Hello-µ@ßöäüàá-UTF-8!!".encode(),
    "kosme": KOSME,
    "nul": b"\x00",
    "u+007f": b"\x7f",
    "u+0080": "\u0080".encode(),
    "u+07ff": "\u07ff".encode(),
    "u+0800": "\u0800".encode(),
    "u+d7ff": "\ud7ff".encode(),
    "u+e000": "\ue000".encode(),
    "u+fffd": "\ufffd".encode(),
    "u+fffe-nonchar": "\ufffe".encode(),
    "u+ffff": "\uffff".encode(),
    "bom": "\ufeff".encode(),
    "bom-text": "\ufeffbom first".encode(),
    "u+10000": "\U00010000".encode(),
    "u+1fffe": "\U0001fffe".encode(),
    "u+10fffe": "\U0010fffe".encode(),
    "u+10ffff": "\U0010ffff".encode(),
    "all-4-byte-max": "\U0010ffff\uffff\u07ff\x7f".encode(),
}

INVALID_UTF8 = {
    # 6.3.1: valid text then a surrogate
    "kosme-surrogate-edited": KOSME + b"\xed\xa0\x80edited",
    # 6.6.x: truncated sequences at the end of the message
    "truncated-2": b"\xce",
    "truncated-kosme-1": b"\xce\xba\xe1",
    "truncated-kosme-2": b"\xce\xba\xe1\xbd",
    "truncated-kosme-3": b"\xce\xba\xe1\xbd\xb9\xcf",
    "truncated-kosme-4": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce",
    "truncated-kosme-5": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce",
    # 6.8 / 6.10 / 6.11.5: code points above U+10FFFF and 5/6-byte forms
    "u+110000": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80",
    "f7bfbfbf": b"\xf7\xbf\xbf\xbf",
    "5-byte": b"\xf8\x88\x80\x80\x80",
    "6-byte": b"\xfc\x84\x80\x80\x80\x80",
    "5-byte-max": b"\xfb\xbf\xbf\xbf\xbf",
    "6-byte-max": b"\xfd\xbf\xbf\xbf\xbf\xbf",
    # 6.12: unexpected continuation bytes
    "cont-80": b"\x80",
    "cont-bf": b"\xbf",
    "cont-80bf": b"\x80\xbf",
    "cont-in-text": b"hello\x80world",
    # 6.14: lonely start bytes followed by a space
    "lonely-c0": b"\xc0\x20",
    "lonely-e0": b"\xe0\x20",
    "lonely-f0": b"\xf0\x20",
    # 6.15: last continuation byte missing
    "missing-2": b"\xdf",
    "missing-3": b"\xef\xbf",
    "missing-4": b"\xf4\x8f\xbf",
    # 6.17: impossible bytes
    "fe": b"\xfe",
    "ff": b"\xff",
    "fefeffff": b"\xfe\xfe\xff\xff",
    # 6.18-6.20: overlong encodings
    "overlong-slash-2": b"\xc0\xaf",
    "overlong-slash-3": b"\xe0\x80\xaf",
    "overlong-slash-4": b"\xf0\x80\x80\xaf",
    "overlong-max-2": b"\xc1\xbf",
    "overlong-max-3": b"\xe0\x9f\xbf",
    "overlong-max-4": b"\xf0\x8f\xbf\xbf",
    "overlong-nul-2": b"\xc0\x80",
    "overlong-nul-3": b"\xe0\x80\x80",
    # 6.20/6.21: surrogates U+D800..U+DFFF, single and paired
    "u+d800": b"\xed\xa0\x80",
    "u+db7f": b"\xed\xad\xbf",
    "u+db80": b"\xed\xae\x80",
    "u+dbff": b"\xed\xaf\xbf",
    "u+dc00": b"\xed\xb0\x80",
    "u+df80": b"\xed\xbe\x80",
    "u+dfff": b"\xed\xbf\xbf",
    "pair-d800-dc00": b"\xed\xa0\x80\xed\xb0\x80",
    "pair-dbff-dfff": b"\xed\xaf\xbf\xed\xbf\xbf",
}


@pytest.mark.parametrize("payload", VALID_UTF8.values(), ids=VALID_UTF8.keys())
def test_8_1_valid_utf8_echoed(ws, payload):
    """Autobahn 6.2, 6.5, 6.7, 6.9, 6.11, 6.22, 6.23: valid UTF-8, including maximums, noncharacters, BOM."""
    ws.echo(OP_TEXT, payload)


@pytest.mark.parametrize("payload", VALID_UTF8.values(), ids=VALID_UTF8.keys())
def test_8_1_valid_utf8_one_byte_per_fragment(ws, payload):
    """Autobahn 6.2.4: every byte in its own fragment, so multi-byte characters span fragments."""
    ws.send_raw(fragments(OP_TEXT, payload, 1))
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (OP_TEXT, payload)


def test_8_1_valid_utf8_frame_written_byte_by_byte(ws):
    """Autobahn 6.2.3: a single frame with multi-byte characters arrives one TCP byte at a time."""
    payload = KOSME + "\U0010ffff\u20ac\ufeff".encode()
    ws.send_text(payload, chunk=1, delay=0.001)
    assert ws.recv_message().payload == payload


@pytest.mark.parametrize("first,second", [
    (b"\xce", b"\xba"),
    (b"\xf4\x8f", b"\xbf\xbf"),
    (b"\xe1", b"\xbd\xb9"),
    (b"ab\xf0\x9f\x98", b"\x80cd"),
], ids=["2-byte", "4-byte-max", "3-byte", "emoji"])
def test_8_1_character_split_across_fragments_is_not_failed_early(ws, first, second):
    """A non-final fragment may end inside a character: no 1007 until the rest arrives, then it is echoed."""
    ws.send_frame(OP_TEXT, first, fin=False)
    ws.assert_silent(0.3)
    ws.send_frame(OP_CONT, second)
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (OP_TEXT, first + second)


@pytest.mark.parametrize("payload", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_8_1_invalid_utf8_closes_1007(ws, payload):
    """Autobahn 6.3-6.21: invalid UTF-8 in a single-frame text message."""
    ws.send_text(payload)
    expect_close(ws, 1007)


@pytest.mark.parametrize("payload", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_8_1_invalid_utf8_one_byte_per_fragment_closes_1007(ws, payload):
    """Autobahn 6.3.2 style: the same vectors with every byte in its own fragment."""
    ws.send_raw(fragments(OP_TEXT, payload, 1), tolerant=True)
    expect_close(ws, 1007)


@pytest.mark.parametrize("frames", [
    [KOSME + b"\xed\xa0\x80"],
    [b"\xff"],
    [b"\xc0\xaf"],
    [KOSME + b"\xf4\x90\x80\x80"],
    [b"hello\x80"],
    [KOSME, b"\xed\xa0\x80edited"],
    [b"\xce", b"A"],
], ids=["surrogate", "ff", "overlong", "above-max", "continuation", "second-fragment", "broken-split"])
def test_8_1_invalid_utf8_fails_fast_before_final_fragment(ws, frames):
    """Autobahn 6.4.1/6.4.2: invalid UTF-8 in a non-final fragment closes 1007 without waiting for FIN."""
    for index, payload in enumerate(frames):
        ws.send_frame(OP_TEXT if index == 0 else OP_CONT, payload, fin=False, tolerant=True)
    expect_close(ws, 1007, timeout=3)


@pytest.mark.parametrize("bad", [b"\xf4\x90\x80\x80", b"\xf4\x90"], ids=["6.4.3", "6.4.4"])
def test_8_1_invalid_utf8_fails_fast_inside_one_frame(ws, bad):
    """Autobahn 6.4.3/6.4.4: one text frame in chops. The valid first chop is not failed; the chop with the
    invalid bytes (6.4.4: only up to the byte that makes it invalid) closes 1007 before the frame is complete."""
    payload = KOSME + b"\xf4\x90\x80\x80" + b"edited"
    frame = build_frame(OP_TEXT, payload)
    start = len(frame) - len(payload)
    ws.send_raw(frame[:start + len(KOSME)])
    ws.assert_silent(0.2)
    ws.send_raw(frame[start + len(KOSME):start + len(KOSME) + len(bad)], tolerant=True)
    expect_close(ws, 1007, timeout=3)


@pytest.mark.parametrize("size,bad_at", [(200, 1), (1 << 20, 65535)], ids=["small-frame", "1MiB-frame"])
def test_8_1_invalid_utf8_in_the_first_part_of_a_frame_closes_1007_before_the_rest(ws, size, bad_at):
    """The header and the first part of the payload, with an invalid byte at its end; the rest is never sent.
    The server fails at that byte (for a 1 MiB frame: after 64 KiB of it, without waiting for or buffering the rest)."""
    payload = bytearray(b"a" * size)
    payload[bad_at] = 0xFF
    frame = build_frame(OP_TEXT, bytes(payload))
    ws.send_raw(frame[:len(frame) - size + bad_at + 1], tolerant=True)
    expect_close(ws, 1007, timeout=3)


def test_8_1_frame_in_chops_ending_inside_a_character_closes_1007_at_its_end(ws):
    """Autobahn 6.6 within one frame sent in two writes: not failed while the character may still complete,
    1007 once the frame ends inside it."""
    frame = build_frame(OP_TEXT, KOSME + b"\xe1\xbd")
    ws.send_raw(frame[:-1])
    ws.assert_silent(0.2)
    ws.send_raw(frame[-1:], tolerant=True)
    expect_close(ws, 1007, timeout=3)


def test_8_1_truncated_character_at_end_of_fragmented_message_closes_1007(ws):
    """Autobahn 6.6 across fragments: valid fragments, but the final one ends inside a character."""
    ws.send_raw(build_frame(OP_TEXT, KOSME, fin=False) + build_frame(OP_CONT, b"\xe1\xbd"))
    expect_close(ws, 1007)


def test_8_1_valid_message_before_invalid_one_is_echoed(ws):
    """The connection only fails at the invalid message; earlier messages were echoed."""
    ws.send_raw(build_frame(OP_TEXT, KOSME) + build_frame(OP_TEXT, b"\xed\xbf\xbf"))
    assert ws.recv_message().payload == KOSME
    expect_close(ws, 1007)


def test_8_1_binary_messages_are_not_utf8_checked(ws):
    """Only text messages are UTF-8 validated."""
    ws.echo(OP_BINARY, b"\xff\xfe\xed\xa0\x80\xc0\xaf")


# ---------------------------------------------------------------- 9 / 10.1 large messages


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_9_1_one_mib_single_frame_echoed(ws, opcode):
    """Autobahn 9.1.3/9.2.3 (at 1 MiB): one frame, echoed byte-exact."""
    payload = utf8_text(1 << 20) if opcode == OP_TEXT else randbytes(1 << 20)
    ws.send_frame(opcode, payload)
    message = ws.recv_message(timeout=10)
    assert message.opcode == opcode and message.payload == payload


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_9_3_four_mib_in_64_kib_fragments_echoed(ws, opcode):
    """Autobahn 9.3.x/9.4.x (at 4 MiB): 64 KiB fragments (text fragments split characters), echoed byte-exact."""
    payload = utf8_text(4 << 20) if opcode == OP_TEXT else randbytes(4 << 20)
    ws.send_raw(fragments(opcode, payload, 65536))
    message = ws.recv_message(timeout=10)
    assert message.opcode == opcode and message.payload == payload


def test_10_1_1_text_65536_in_1300_byte_fragments(ws):
    """Autobahn 10.1.1: a 65536-byte text message sent as 1300-byte fragments is echoed whole."""
    payload = b"*" * 65536
    ws.send_raw(fragments(OP_TEXT, payload, 1300))
    message = ws.recv_message(timeout=10)
    assert (message.opcode, message.payload) == (OP_TEXT, payload)


# ---------------------------------------------------------------- 10.4 limits


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("fragment", [None, 4096, 1000], ids=["single-frame", "4096-fragments", "1000-fragments"])
def test_10_4_message_exactly_at_limit_echoed(limited, opcode, fragment):
    """A message of exactly --ws-max-message-bytes is allowed, in one frame or in fragments."""
    payload = utf8_text(LIMIT) if opcode == OP_TEXT else randbytes(LIMIT)
    limited.send_raw(build_frame(opcode, payload) if fragment is None else fragments(opcode, payload, fragment))
    message = limited.recv_message(timeout=10)
    assert message.opcode == opcode and message.payload == payload


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_10_4_single_frame_over_limit_closes_1009(limited, opcode):
    """Autobahn 9.x limit behaviour: one byte over --ws-max-message-bytes in a single frame → 1009."""
    payload = utf8_text(LIMIT + 1) if opcode == OP_TEXT else randbytes(LIMIT + 1)
    limited.send_frame(opcode, payload, tolerant=True)
    expect_close(limited, 1009)


@pytest.mark.parametrize("length", [LIMIT + 1, 1 << 20, 1 << 40], ids=["limit+1", "1MiB", "1TiB"])
def test_10_4_oversized_frame_header_closes_1009_without_payload(limited, length):
    """The announced frame length alone exceeds the limit: 1009 before (and without) the payload arriving."""
    limited.send_raw(frame_header(OP_BINARY, length) + b"\x00" * 16, tolerant=True)
    expect_close(limited, 1009, timeout=3)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_10_4_fragments_summing_over_limit_close_1009(limited, opcode):
    """Many fragments, each small, whose sum exceeds the limit (final fragment FIN=1) → 1009."""
    payload = utf8_text(LIMIT + 4096) if opcode == OP_TEXT else randbytes(LIMIT + 4096)
    limited.send_raw(fragments(opcode, payload, 4096), tolerant=True)
    expect_close(limited, 1009)


def test_10_4_unfinished_message_over_limit_closes_1009(limited):
    """The sum is checked as fragments arrive: over the limit with FIN never sent still closes 1009."""
    piece = randbytes(8192)
    data = build_frame(OP_BINARY, piece, fin=False) + b"".join(
        build_frame(OP_CONT, piece, fin=False) for _ in range(LIMIT // len(piece)))
    limited.send_raw(data, tolerant=True)
    expect_close(limited, 1009, timeout=3)


def test_10_4_limit_applies_per_message(limited):
    """Several messages whose total exceeds the limit are fine: the limit is per message."""
    for i in range(4):
        limited.echo(OP_BINARY, randbytes(LIMIT - 1, i))


def test_10_4_message_rate_limit_closes_1008(make_server):
    """--ws-max-messages-per-second 10: messages below the rate are echoed, a burst of 50 closes with 1008."""
    srv = make_server("--echo", "--ws-max-messages-per-second", "10", "--ws-close-timeout", "2")
    with connect(srv) as ws:
        for i in range(3):
            ws.echo(OP_TEXT, f"slow {i}")
            time.sleep(0.3)
        ws.send_raw(b"".join(build_frame(OP_TEXT, f"fast {i}".encode()) for i in range(50)), tolerant=True)
        expect_close(ws, 1008, allow_data=True)


def _open_or_none(srv):
    response, ws = upgrade(srv)
    if response.status == 101:
        return ws
    ws.close()
    return None


@pytest.mark.parametrize("flag", ["--ws-max-connections", "--ws-max-connections-per-ip"])
def test_10_4_connection_limit_503_and_slot_freed_on_close(make_server, flag):
    """Past the limit the upgrade gets 503; once a connection closes, a new one is accepted."""
    limit = 2 if flag == "--ws-max-connections" else 1
    srv = make_server("--echo", flag, str(limit))
    open_connections = [connect(srv) for _ in range(limit)]
    try:
        for i, conn in enumerate(open_connections):
            conn.echo(OP_TEXT, f"connection {i}")
        rejected = upgrade_status(srv)
        assert rejected.status == 503, f"{flag} {limit}: upgrade number {limit + 1} got {rejected.status}"
        first = open_connections.pop(0)
        first.send_close(1000)
        expect_close(first, 1000)
        first.close()
        replacement = wait_until(lambda: _open_or_none(srv), timeout=5)
        assert replacement is not None, "the closed connection's slot was not freed within 5 s"
        open_connections.append(replacement)
        for conn in open_connections:
            conn.echo(OP_TEXT, "still here")
        assert upgrade_status(srv).status == 503, "the limit applies again once the slot is taken"
    finally:
        for conn in open_connections:
            conn.close()


# ---------------------------------------------------------------- liveness (ping interval, idle timeout)


def test_5_5_2_server_pings_and_disconnects_silent_peer(make_server):
    """--ws-ping-interval 1 --ws-idle-timeout 3: a peer that reads but never answers gets pings, then is closed
    (close 1001 or plain end of TCP) about 3 s after its last traffic."""
    srv = make_server("--echo", "--ws-ping-interval", "1", "--ws-idle-timeout", "3", "--ws-close-timeout", "1")
    with connect(srv) as ws:
        started = time.monotonic()
        pings = 0
        for _ in range(100):
            remaining = started + 8 - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"still connected after 8 s ({pings} pings)")
            try:
                frame = ws.recv_frame(timeout=remaining)
            except ConnectionEnded:
                break
            except TimeoutError:
                pytest.fail(f"still connected after 8 s ({pings} pings)")
            if frame.opcode == OP_PING:
                pings += 1
                continue
            assert frame.opcode == OP_CLOSE, f"unexpected {frame.describe()}"
            assert frame.close_code == 1001
            expect_eof(ws, timeout=3)
            break
        elapsed = time.monotonic() - started
    assert pings >= 1, "the server sent no ping"
    assert 2.5 <= elapsed <= 7.0, f"disconnected after {elapsed:.1f} s"


async def test_5_5_3_peer_answering_pings_survives_idle_timeout(make_server):
    """A client that answers pings (websockets does so automatically) is not idle: still connected after 5 s."""
    srv = make_server("--echo", "--ws-ping-interval", "1", "--ws-idle-timeout", "3")
    async with ws_connect(srv.ws_url + "/ws/echo", compression=None, proxy=None, ping_interval=None,
                          open_timeout=5, close_timeout=5) as client:
        await asyncio.sleep(5)
        assert client.state is websockets.protocol.State.OPEN
        await client.send("still here")
        assert await asyncio.wait_for(client.recv(), 5) == "still here"
    assert client.close_code == 1000
