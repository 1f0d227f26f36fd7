"""RFC 7692 permessage-deflate on the WebSocket echo endpoint `/ws/echo` (`praxis serve --echo`).

Two clients: the `websockets` library with its own permessage-deflate (an independent, widely used
implementation), and the raw client of wsraw.py, which negotiates exact offers, compresses with zlib itself
and decodes the server's frames strictly. The cases follow the Autobahn|Testsuite 12.x/13.x families.
"""
from __future__ import annotations

import asyncio
import json
import random

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from conftest import start_server
from wsraw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Deflater,
    Inflater,
    build_frame,
    close_payload,
    compress_message,
    expect_close,
    fragments,
    parse_extensions,
    upgrade,
    utf8_text,
)

pytestmark = pytest.mark.timeout(60)

LIMIT = 65536  # --ws-max-message-bytes of the `limited_server` fixture
EXTENSIONS = "Sec-WebSocket-Extensions"
WINDOW_PARAMS = ("server_max_window_bits", "client_max_window_bits")
FLAG_PARAMS = ("server_no_context_takeover", "client_no_context_takeover")
MAX_SIZE = 16 * 1024 * 1024


# ---------------------------------------------------------------- data


def random_bytes(n: int, seed: int = 7692) -> bytes:
    return random.Random(seed).randbytes(n)


def random_text(nbytes: int, seed: int = 7692) -> str:
    """Random, hardly compressible text of exactly `nbytes` UTF-8 bytes (1- to 4-byte characters)."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0x3B1, 0x3CA)] + \
               [chr(c) for c in range(0x4E00, 0x4E80)] + [chr(c) for c in range(0x1F600, 0x1F640)]
    encoded = "".join(rng.choices(alphabet, k=nbytes // 2 + 4)).encode("utf-8")[:nbytes]
    text = encoded.decode("utf-8", "ignore")
    text += "." * (nbytes - len(text.encode("utf-8")))
    assert len(text.encode("utf-8")) == nbytes
    return text


def compressible_text(nbytes: int) -> str:
    return utf8_text(nbytes).decode("utf-8")


def payload_for(kind: str, opcode: int, size: int) -> str | bytes:
    if opcode == OP_TEXT:
        return compressible_text(size) if kind == "compressible" else random_text(size, size)
    return (b"\x00\x01" * size)[:size] if kind == "compressible" else random_bytes(size, size)


def repeated_block(total: int, block: int = 4096, seed: int = 1) -> bytes:
    """Random blocks repeated: compresses well only with back-references `block` bytes apart."""
    return (random_bytes(block, seed) * (total // block + 1))[:total]


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("ws-deflate") / "praxis.sqlite", "--echo", "--ws-close-timeout", "2")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("ws-deflate-limited") / "praxis.sqlite", "--echo",
                       "--ws-max-message-bytes", str(LIMIT), "--ws-close-timeout", "2")
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def servers_stay_up(request):
    yield
    for name in ("echo_server", "limited_server"):
        if name in request.fixturenames:
            srv = request.getfixturevalue(name)
            assert srv.process.poll() is None, "the server process died:\n" + "".join(srv.output[-30:])


def check_accepted(offer: str, response_header: str | None) -> dict[str, str | None]:
    """The response accepts exactly one permessage-deflate with parameters RFC 7692 section 7.1 allows."""
    accepted = parse_extensions(response_header)
    assert len(accepted) == 1, f"expected one accepted extension, got {response_header!r}"
    name, params = accepted[0]
    assert name == "permessage-deflate", response_header
    offered = parse_extensions(offer.split(",")[-1])[0][1] if offer else {}
    for key, value in params.items():
        assert key in FLAG_PARAMS + WINDOW_PARAMS, f"unknown parameter {key!r} in the response"
        if key in FLAG_PARAMS:
            assert value is None, f"{key} takes no value"
        else:
            assert value is not None and value.isdigit() and 8 <= int(value) <= 15, f"{key}={value!r}"
    assert "client_max_window_bits" not in params or "client_max_window_bits" in offered, \
        "client_max_window_bits in the response although the client did not offer it (RFC 7692 7.1.2.2)"
    if "server_no_context_takeover" in offered:
        assert "server_no_context_takeover" in params, "an accepted server_no_context_takeover must be echoed"
    if offered.get("server_max_window_bits"):
        assert "server_max_window_bits" in params, "an accepted server_max_window_bits must be answered"
        assert int(params["server_max_window_bits"]) <= int(offered["server_max_window_bits"])
    if offered.get("client_max_window_bits") and "client_max_window_bits" in params:
        assert int(params["client_max_window_bits"]) <= int(offered["client_max_window_bits"])
    return params


def connect_deflate(srv, offer: str = "permessage-deflate"):
    """A raw connection with permessage-deflate negotiated; returns (ws, params, client deflater)."""
    response, ws = upgrade(srv, headers={EXTENSIONS: offer})
    try:
        assert response.status == 101, response.raw
        params = check_accepted(offer, response.header(EXTENSIONS))
    except BaseException:
        ws.close()
        raise
    offered = parse_extensions(offer.split(",")[-1])[0][1]
    client_bits = params.get("client_max_window_bits") or offered.get("client_max_window_bits") or "15"
    ws.inflater = Inflater(int(params.get("server_max_window_bits") or 15),
                           no_context_takeover="server_no_context_takeover" in params)
    deflater = Deflater(max(9, int(client_bits)), no_context_takeover="client_no_context_takeover" in params)
    return ws, params, deflater


def send_compressed(ws, deflater: Deflater, opcode: int, data: bytes, *, fragment: int | None = None,
                    tolerant: bool = False) -> None:
    body = deflater.compress(data)
    if fragment is None:
        ws.send_frame(opcode, body, rsv1=True, tolerant=tolerant)
    else:
        ws.send_raw(fragments(opcode, body, fragment, rsv1=True), tolerant=tolerant)


@pytest.fixture
def dws(echo_server):
    """A raw connection with plain `permessage-deflate` negotiated: (ws, deflater)."""
    ws, _, deflater = connect_deflate(echo_server)
    yield ws, deflater
    ws.close()


def _open(srv, **options):
    return ws_connect(srv.ws_url + "/ws/echo", proxy=None, open_timeout=5, close_timeout=5, ping_interval=None,
                      max_size=MAX_SIZE, **options)


# ---------------------------------------------------------------- websockets client


@pytest.mark.parametrize("kind", ["compressible", "random"])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("size", [0, 1, 100, 16384, 1 << 20])
async def test_7692_5_websockets_default_compression_echo(echo_server, kind, opcode, size):
    """Autobahn 12.1.x/12.2.x: the websockets client's default offer is accepted and messages round-trip."""
    async with _open(echo_server) as client:
        header = client.response.headers.get(EXTENSIONS)
        check_accepted("permessage-deflate; client_max_window_bits", header)
        payload = payload_for(kind, opcode, size)
        await client.send(payload)
        echoed = await asyncio.wait_for(client.recv(), 10)
        assert type(echoed) is type(payload)
        assert echoed == payload
    assert client.close_code == 1000


FACTORIES = {
    "server-no-context-takeover": dict(server_no_context_takeover=True),
    "client-no-context-takeover": dict(client_no_context_takeover=True),
    "server-window-10": dict(server_max_window_bits=10),
    "client-window-9": dict(client_max_window_bits=9),
    "all-parameters": dict(server_no_context_takeover=True, client_no_context_takeover=True,
                           server_max_window_bits=9, client_max_window_bits=9),
}


def _message(i: int) -> str | bytes:
    size = [0, 1, 2, 7, 16, 64, 125, 126, 256, 1000, 4096, 8192, 16384, 32768, 65535, 65536, 131072][i % 17]
    kind = i % 4
    if kind == 0:
        return compressible_text(size)
    if kind == 1:
        return random_bytes(size, i)
    if kind == 2:
        return json.dumps([{"id": j, "name": f"row {j}", "ok": j % 3 == 0} for j in range(size // 40)])[:size]
    return bytes(size)


@pytest.mark.parametrize("options", [None, *FACTORIES.values()], ids=["default", *FACTORIES.keys()])
async def test_7692_7_hundred_messages_round_trip(echo_server, options):
    """Autobahn 12.x/13.x: 100 messages of varying sizes and content, under each parameter combination,
    round-trip exactly (context takeover across messages exercises the server's retained LZ77 window)."""
    extra = {} if options is None else dict(compression=None, extensions=[ClientPerMessageDeflateFactory(
        compress_settings={"memLevel": 5}, **options)])
    async with _open(echo_server, **extra) as client:
        header = client.response.headers.get(EXTENSIONS)
        assert header is not None and header.lower().startswith("permessage-deflate"), header
        for i in range(100):
            message = _message(i)
            await client.send(message)
            echoed = await asyncio.wait_for(client.recv(), 10)
            assert type(echoed) is type(message) and echoed == message, f"message {i} (size {len(message)})"
    assert client.close_code == 1000


async def test_7692_7_2_2_websockets_bomb_closes_1009(limited_server):
    """websockets compresses 200 KiB of zeros to a tiny frame; inflated it exceeds the limit: 1009."""
    async with _open(limited_server) as client:
        await client.send(bytes(200 * 1024))
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            await asyncio.wait_for(client.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# ---------------------------------------------------------------- raw negotiation


OFFERS = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=10",
    "permessage-deflate; client_max_window_bits=12",
    "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9; "
    "server_no_context_takeover; client_no_context_takeover",
]


@pytest.mark.parametrize("offer", OFFERS)
def test_7692_7_1_offer_accepted_and_parameters_honoured(echo_server, offer):
    """Autobahn 13.x: each offer is accepted with valid parameters; compressed messages in both directions obey
    them (the client inflates the server's messages with the negotiated window and context rules)."""
    ws, _, deflater = connect_deflate(echo_server, offer)
    with ws:
        for i in range(3):
            data = repeated_block(16384, 4096)  # same content each time: back-references into earlier messages
            send_compressed(ws, deflater, OP_BINARY, data)
            message = ws.recv_message(timeout=10)
            assert (message.opcode, message.payload) == (OP_BINARY, data), f"message {i}"
            text = compressible_text(20000 + i)
            send_compressed(ws, deflater, OP_TEXT, text.encode(), fragment=5000)
            message = ws.recv_message(timeout=10)
            assert (message.opcode, message.payload.decode()) == (OP_TEXT, text), f"text {i}"


def test_7692_7_1_2_server_max_window_bits_10_enforced(echo_server):
    """server_max_window_bits=10: the server's compressed data uses at most a 1 KiB window, so a client with a
    10-bit inflater can decode messages full of 4 KiB-distant repetitions."""
    ws, params, deflater = connect_deflate(echo_server, "permessage-deflate; server_max_window_bits=10")
    with ws:
        assert int(params["server_max_window_bits"]) <= 10
        ws.inflater = Inflater(max(9, int(params["server_max_window_bits"])))
        for _ in range(3):
            data = repeated_block(65536, 4096)
            send_compressed(ws, deflater, OP_BINARY, data)
            message = ws.recv_message(timeout=10)
            assert message.payload == data
            assert message.frames[0].rsv1, "the server should compress a 64 KiB compressible echo"


def test_7692_7_1_1_server_no_context_takeover_enforced(echo_server):
    """server_no_context_takeover: each server message inflates with a fresh context."""
    ws, params, deflater = connect_deflate(echo_server, "permessage-deflate; server_no_context_takeover")
    with ws:
        assert "server_no_context_takeover" in params
        data = repeated_block(8192, 1024, seed=7)
        for _ in range(3):
            send_compressed(ws, deflater, OP_BINARY, data)
            ws.inflater = Inflater(15, no_context_takeover=True)  # a fresh inflater per message
            message = ws.recv_message(timeout=10)
            assert message.payload == data and message.frames[0].rsv1


def test_7692_7_2_1_client_context_takeover_is_retained_by_server(dws):
    """Without client_no_context_takeover the server keeps its inflate context across messages: the second and
    third messages are compressed as back-references into the first."""
    ws, deflater = dws
    text = random_text(3000, 99).encode()
    sizes = []
    for _ in range(3):
        body = deflater.compress(text)
        sizes.append(len(body))
        ws.send_frame(OP_TEXT, body, rsv1=True)
        assert ws.recv_message().payload == text
    assert sizes[1] < sizes[0] // 4, "test precondition: later messages reference earlier ones"


def test_7692_6_1_server_compresses_large_compressible_echo(dws):
    """With permessage-deflate negotiated the server compresses a 16 KiB, highly compressible echo
    (RSV1 on the first frame only, never on continuations or control frames)."""
    ws, deflater = dws
    text = compressible_text(16384)
    ws.send_text(text)  # sent uncompressed, which RFC 7692 section 6 allows
    message = ws.recv_message()
    assert message.payload.decode() == text
    assert message.frames[0].rsv1, "the echo was not compressed"
    assert sum(len(frame.payload) for frame in message.frames) < 8192


@pytest.mark.parametrize("offer", [
    "permessage-deflate; foo=1",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "x-webkit-deflate-frame",
], ids=["unknown-param", "window-7", "window-16", "window-no-value", "window-not-number", "flag-with-value",
        "duplicate-param", "unknown-extension"])
def test_7692_7_invalid_offer_declined_connection_uncompressed(echo_server, offer):
    """RFC 7692 section 7: an offer with an unknown parameter, an invalid value or a duplicate is declined:
    101 without Sec-WebSocket-Extensions, messages are uncompressed and RSV1 stays a protocol error."""
    response, ws = upgrade(echo_server, headers={EXTENSIONS: offer})
    with ws:
        assert response.status == 101, response.raw
        assert response.header(EXTENSIONS) is None, f"declined offer answered with {response.header(EXTENSIONS)!r}"
        message = ws.echo(OP_TEXT, compressible_text(16384))  # recv_frame fails on any RSV1 without the extension
        assert not message.frames[0].rsv1
        ws.send_frame(OP_TEXT, compress_message(b"compressed anyway"), rsv1=True)
        expect_close(ws, 1002)


def test_7692_5_first_acceptable_offer_is_used(echo_server):
    """Offers are alternatives in preference order: the invalid first one is skipped, the second accepted."""
    offer = "permessage-deflate; foo=1, permessage-deflate; client_no_context_takeover"
    ws, params, deflater = connect_deflate(echo_server, offer)
    with ws:
        data = repeated_block(10000)
        send_compressed(ws, deflater, OP_BINARY, data)
        assert ws.recv_message().payload == data


# ---------------------------------------------------------------- raw framing with deflate


@pytest.mark.parametrize("fragment", [1, 7, 100, 4096])
def test_7692_6_fragmented_compressed_message(dws, fragment):
    """Autobahn 12.x fragmented: RSV1 only on the first frame, compressed bytes split arbitrarily."""
    ws, deflater = dws
    text = compressible_text(30000)
    send_compressed(ws, deflater, OP_TEXT, text.encode(), fragment=fragment)
    message = ws.recv_message(timeout=10)
    assert (message.opcode, message.payload.decode()) == (OP_TEXT, text)


def test_7692_6_uncompressed_and_compressed_messages_mix(dws):
    """RFC 7692 section 6: a message without RSV1 is not inflated, even on a deflate connection."""
    ws, deflater = dws
    for i in range(4):
        data = random_bytes(5000, i)
        if i % 2:
            send_compressed(ws, deflater, OP_BINARY, data)
        else:
            ws.send_binary(data)
        assert ws.recv_message().payload == data


@pytest.mark.parametrize("body", [compress_message(b""), b"\x00", b""], ids=["deflated-empty", "00", "no-bytes"])
def test_7692_7_2_3_6_empty_compressed_message(dws, body):
    """An empty message compressed (RFC 7692 7.2.3.6) or an empty RSV1 payload inflates to an empty message."""
    ws, _ = dws
    ws.send_frame(OP_TEXT, body, rsv1=True)
    message = ws.recv_message()
    assert (message.opcode, message.payload) == (OP_TEXT, b"")


@pytest.mark.parametrize("opcode,payload", [
    (OP_PING, b"ping"), (OP_PONG, b"pong"), (OP_CLOSE, close_payload(1000)),
], ids=["ping", "pong", "close"])
def test_7692_6_rsv1_on_control_frame_closes_1002(dws, opcode, payload):
    """RSV1 marks a compressed message; control frames cannot carry it even with deflate negotiated."""
    ws, _ = dws
    ws.send_frame(opcode, payload, rsv1=True)
    expect_close(ws, 1002)


def test_7692_6_rsv1_on_continuation_frame_closes_1002(dws):
    """RSV1 is set on the first frame of a message only; on a continuation frame it is a protocol error."""
    ws, deflater = dws
    body = deflater.compress(compressible_text(4000).encode())
    ws.send_raw(build_frame(OP_TEXT, body[:10], fin=False, rsv1=True) + build_frame(OP_CONT, body[10:], rsv1=True))
    expect_close(ws, 1002)


def test_7692_6_rsv1_on_continuation_of_uncompressed_message_closes_1002(dws):
    ws, _ = dws
    ws.send_raw(build_frame(OP_BINARY, b"plain", fin=False) + build_frame(OP_CONT, b"\x00", rsv1=True))
    expect_close(ws, 1002)


@pytest.mark.parametrize("rsv", [(False, True, False), (False, False, True), (True, True, False)],
                         ids=["rsv2", "rsv3", "rsv12"])
def test_7692_6_other_rsv_bits_still_close_1002(dws, rsv):
    """permessage-deflate only defines RSV1; RSV2/RSV3 remain protocol errors."""
    ws, deflater = dws
    ws.send_frame(OP_TEXT, deflater.compress(b"hello"), rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2])
    expect_close(ws, 1002)


def test_7692_6_2_invalid_compressed_data_fails_connection(dws):
    """Data that is not a valid DEFLATE stream fails the connection (1007 or 1002; the RFCs name no code)."""
    ws, _ = dws
    ws.send_frame(OP_BINARY, b"\xff\xff\xff\xff\xff\xff", rsv1=True)
    expect_close(ws, {1002, 1007})


def test_7692_6_2_inflated_text_invalid_utf8_closes_1007(dws):
    """UTF-8 is validated on the inflated text, not the compressed bytes."""
    ws, _ = dws
    ws.send_frame(OP_TEXT, compress_message("κόσμε".encode() + b"\xed\xa0\x80edited"), rsv1=True)
    expect_close(ws, 1007)


# ---------------------------------------------------------------- inflated size limit ("zip bomb")


@pytest.fixture
def limited_dws(limited_server):
    ws, _, deflater = connect_deflate(limited_server)
    yield ws, deflater
    ws.close()


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_7692_7_2_2_inflated_message_at_limit_echoed(limited_dws, opcode):
    """A compressed message that inflates to exactly --ws-max-message-bytes is accepted."""
    ws, deflater = limited_dws
    data = b"a" * LIMIT if opcode == OP_TEXT else bytes(LIMIT)
    send_compressed(ws, deflater, opcode, data)
    message = ws.recv_message(timeout=10)
    assert (message.opcode, message.payload) == (opcode, data)


@pytest.mark.parametrize("size", [LIMIT + 1, 200 * 1024, 16 * 1024 * 1024], ids=["limit+1", "200KiB", "16MiB"])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_7692_7_2_2_inflated_size_over_limit_closes_1009(limited_dws, opcode, size):
    """A tiny compressed frame whose inflated size exceeds --ws-max-message-bytes closes with 1009."""
    ws, _ = limited_dws
    data = b"a" * size if opcode == OP_TEXT else bytes(size)
    body = compress_message(data)
    assert len(body) < LIMIT // 2, "test precondition: the compressed frame itself is under the limit"
    ws.send_frame(opcode, body, rsv1=True, tolerant=True)
    expect_close(ws, 1009)


def test_7692_7_2_2_fragmented_bomb_closes_1009(limited_dws):
    """The same with the compressed bytes (about 1 KiB for 1 MiB of zeros) spread over 64-byte fragments."""
    ws, _ = limited_dws
    ws.send_raw(fragments(OP_BINARY, compress_message(bytes(1 << 20)), 64, rsv1=True), tolerant=True)
    expect_close(ws, 1009)


def test_7692_7_2_2_bomb_after_context_takeover_closes_1009(limited_dws):
    """The limit holds for every message on a connection with a retained inflate context."""
    ws, deflater = limited_dws
    for _ in range(3):
        send_compressed(ws, deflater, OP_BINARY, bytes(LIMIT // 2))
        assert ws.recv_message().payload == bytes(LIMIT // 2)
    send_compressed(ws, deflater, OP_BINARY, bytes(LIMIT * 4), tolerant=True)
    expect_close(ws, 1009)
