"""Helpers for the realtime interop tests: a raw Phoenix Channels client, realtime-py glue, events.

The raw client (`Phoenix`) speaks the wire protocol over the `websockets` library and keeps every
message it receives, in order, so a test can assert exact sequences and shapes that realtime-py
hides (join replies, `system` messages, the Praxis `praxis` join extension, vsn 2.0.0 arrays).

Every wait has a deadline of at most MAX_WAIT seconds; every loop is bounded by one.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import websockets
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

MAX_WAIT = 10.0
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$")
SUBSCRIBED_TO_POSTGRES = "Subscribed to PostgreSQL"


def websocket_url(server, key: str | None = None, path: str = "/realtime/v1/websocket", vsn: str | None = "1.0.0",
                  **params: str) -> str:
    """The realtime endpoint's URL with `apikey` (the anon key unless told; "" leaves it out) and `vsn`."""
    query: dict[str, str] = {}
    key = server.anon_key if key is None else key
    if key:
        query["apikey"] = key
    if vsn:
        query["vsn"] = vsn
    query.update(params)
    return f"{server.ws_url}{path}" + (f"?{urlencode(query)}" if query else "")


# ---------------------------------------------------------------- join payloads


def binding(table: str = "practice_rooms", event: str = "*", filter: str | None = None,
            schema: str = "public") -> dict[str, Any]:
    """One postgres_changes binding as realtime-py sends it (no `filter` key when there is none)."""
    value: dict[str, Any] = {"event": event, "schema": schema, "table": table}
    if filter is not None:
        value["filter"] = filter
    return value


def join_payload(*bindings: dict, access_token: str | None = None, broadcast_self: bool = False, ack: bool = False,
                 presence_key: str = "", presence: bool = False, private: bool = False,
                 praxis: dict | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broadcast": {"self": broadcast_self, "ack": ack},
        "presence": {"key": presence_key, "enabled": presence},
        "postgres_changes": list(bindings),
        "private": private,
    }
    if praxis is not None:
        config["praxis"] = praxis
    payload: dict[str, Any] = {"config": config}
    if access_token is not None:
        payload["access_token"] = access_token
    return payload


# ---------------------------------------------------------------- the raw client


class Phoenix:
    """A raw Phoenix Channels client. Every received message is kept in `log` as a dict
    `{topic, event, payload, ref, join_ref}` (vsn 2.0.0 arrays are converted), in arrival order."""

    def __init__(self, ws, vsn: str = "1.0.0"):
        self.ws = ws
        self.vsn = vsn
        self.log: list[dict[str, Any]] = []
        self.raw: list[Any] = []
        self.closed = asyncio.Event()
        self.close_error: BaseException | None = None
        self._arrived = asyncio.Event()
        self._ref = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, server, key: str | None = None, path: str = "/realtime/v1/websocket",
                      vsn: str = "1.0.0") -> "Phoenix":
        ws = await websockets.connect(websocket_url(server, key, path, vsn), open_timeout=MAX_WAIT,
                                      close_timeout=2, max_size=None)
        return cls(ws, vsn)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                decoded = json.loads(frame)
                self.raw.append(decoded)
                if isinstance(decoded, list):
                    assert len(decoded) == 5, f"a vsn 2.0.0 message is a 5-element array: {decoded!r}"
                    join_ref, ref, topic, event, payload = decoded
                    message = {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
                else:
                    message = decoded
                self.log.append(message)
                self._arrived.set()
        except websockets.exceptions.ConnectionClosed as error:
            self.close_error = error
        except BaseException as error:  # noqa: BLE001 - reported by the waits
            self.close_error = error
        finally:
            self.closed.set()
            self._arrived.set()

    def next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    async def send(self, topic: str, event: str, payload: dict, ref: str | None = None,
                   join_ref: str | None = None) -> str | None:
        if self.vsn.startswith("2"):
            await self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            await self.ws.send(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref,
                                           "join_ref": join_ref}))
        return ref

    async def push(self, topic: str, event: str, payload: dict, join_ref: str | None = None) -> str:
        ref = self.next_ref()
        await self.send(topic, event, payload, ref=ref, join_ref=join_ref)
        return ref

    async def wait_for(self, predicate: Callable[[dict], bool], timeout: float = MAX_WAIT, start: int = 0,
                       what: str = "a message") -> tuple[int, dict]:
        """The first logged message at index ≥ start that matches, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + min(timeout, MAX_WAIT)
        index = start
        while True:
            while index < len(self.log):
                if predicate(self.log[index]):
                    return index, self.log[index]
                index += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed.is_set():
                raise AssertionError(f"no {what} within {timeout} s (closed: {self.closed.is_set()}, "
                                     f"{self.close_error!r}); received:\n" + self.describe())
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def reply(self, ref: str, topic: str | None = None, timeout: float = MAX_WAIT) -> dict:
        """The phx_reply to the push with this ref; returns the whole message."""
        _, message = await self.wait_for(
            lambda m: m.get("event") == "phx_reply" and m.get("ref") == ref and (topic is None or m["topic"] == topic),
            timeout, what=f"phx_reply to ref {ref}")
        return message

    async def heartbeat(self) -> dict:
        ref = await self.push("phoenix", "heartbeat", {})
        return await self.reply(ref, "phoenix")

    async def join(self, name: str, payload: dict) -> tuple[str, dict]:
        """Sends phx_join on `realtime:<name>`; returns (join ref, the reply message)."""
        topic = f"realtime:{name}"
        ref = self.next_ref()
        await self.send(topic, "phx_join", payload, ref=ref, join_ref=ref)
        return ref, await self.reply(ref, topic)

    async def join_ok(self, name: str, payload: dict) -> tuple[str, dict]:
        """Joins, asserts the reply is ok and, when there are postgres_changes bindings, waits for the
        system message that says the feed is live. Returns (join ref, the reply's response)."""
        ref, reply = await self.join(name, payload)
        assert reply["payload"].get("status") == "ok", f"join of {name} refused: {reply!r}"
        if payload.get("config", {}).get("postgres_changes"):
            await self.subscribed(name)
        return ref, reply["payload"]["response"]

    async def subscribed(self, name: str, start: int = 0) -> tuple[int, dict]:
        return await self.wait_for(lambda m: is_subscribed_message(m, name), start=start,
                                   what=f"system 'Subscribed to PostgreSQL' for {name}")

    def on(self, topic_name: str, event: str, start: int = 0) -> list[dict]:
        topic = f"realtime:{topic_name}"
        return [m for m in self.log[start:] if m.get("topic") == topic and m.get("event") == event]

    def changes(self, name: str, start: int = 0) -> list[dict]:
        """The postgres_changes payloads received on `realtime:<name>`, in order."""
        return [m["payload"] for m in self.on(name, "postgres_changes", start)]

    async def wait_changes(self, name: str, count: int, start: int = 0, timeout: float = MAX_WAIT) -> list[dict]:
        """Waits until at least `count` postgres_changes arrived on the topic; returns them all."""
        topic = f"realtime:{name}"
        seen = 0

        def enough(message: dict) -> bool:
            nonlocal seen
            if message.get("topic") == topic and message.get("event") == "postgres_changes":
                seen += 1
            return seen >= count

        await self.wait_for(enough, timeout, start, what=f"{count} postgres_changes on {name}")
        return self.changes(name, start)

    async def wait_change(self, name: str, predicate: Callable[[dict], bool], start: int = 0,
                          timeout: float = MAX_WAIT, what: str = "a change") -> dict:
        """Waits for a postgres_changes payload on the topic whose `data` matches."""
        topic = f"realtime:{name}"
        _, message = await self.wait_for(
            lambda m: m.get("topic") == topic and m.get("event") == "postgres_changes" and predicate(m["payload"]["data"]),
            timeout, start, what=what)
        return message["payload"]

    def describe(self, last: int = 40) -> str:
        return "\n".join(json.dumps(m)[:400] for m in self.log[-last:])

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._reader.cancel()
        try:
            await self._reader
        except BaseException:  # noqa: BLE001
            pass


def is_subscribed_message(message: dict, name: str) -> bool:
    return (message.get("topic") == f"realtime:{name}" and message.get("event") == "system"
            and isinstance(message.get("payload"), dict)
            and message["payload"].get("extension") == "postgres_changes"
            and message["payload"].get("status") == "ok")


# ---------------------------------------------------------------- realtime-py glue


def realtime_url(server) -> str:
    return f"{server.ws_url}/realtime/v1"


async def realtime_client(server, token: str | None = None, key: str | None = None,
                          hb_interval: int = 25) -> AsyncRealtimeClient:
    """A connected realtime-py client (apikey = the anon key unless told) acting with `token`."""
    client = AsyncRealtimeClient(realtime_url(server), key or server.anon_key, auto_reconnect=False,
                                 hb_interval=hb_interval, max_retries=1, timeout=int(MAX_WAIT))
    if token:
        await client.set_auth(token)
    await asyncio.wait_for(client.connect(), MAX_WAIT)
    return client


class Sink:
    """Collects callback arguments in order and lets a test wait for them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = asyncio.Event()

    def __call__(self, item: Any, *rest: Any) -> None:
        self.items.append(item if not rest else (item, *rest))
        self._arrived.set()

    async def wait(self, predicate: Callable[[list[Any]], bool], timeout: float = MAX_WAIT,
                   what: str = "the expected items") -> list[Any]:
        deadline = time.monotonic() + min(timeout, MAX_WAIT)
        while not predicate(self.items):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {len(self.items)}:\n"
                                     + "\n".join(repr(item)[:400] for item in self.items[-20:]))
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass
        return self.items

    async def wait_count(self, count: int, timeout: float = MAX_WAIT) -> list[Any]:
        return await self.wait(lambda items: len(items) >= count, timeout, f"{count} items")


async def subscribe(channel: AsyncRealtimeChannel, live: bool = True) -> Sink:
    """Subscribes a realtime-py channel, asserts SUBSCRIBED and, when `live` and it has postgres_changes
    bindings, waits for the system message saying the feed is live. Returns a Sink of the channel's
    subscribe states (it keeps collecting as the state changes; `.errors` holds their errors)."""
    states = Sink()
    states.errors = []
    system = Sink()
    channel.on_system(system)

    def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
        states.errors.append(error)
        states(state)

    await asyncio.wait_for(channel.subscribe(on_state), MAX_WAIT + 2)
    assert states.items and states.items[0] == RealtimeSubscribeStates.SUBSCRIBED, \
        f"subscribe: {states.items} {states.errors}"
    if live and channel.postgres_changes_callbacks:
        await system.wait(lambda items: any(item.message == SUBSCRIBED_TO_POSTGRES
                                            and item.status == "ok" for item in items),
                          what="the system 'Subscribed to PostgreSQL' message")
    return states


async def close_all(*clients: Any) -> None:
    for client in clients:
        try:
            if isinstance(client, Phoenix):
                await client.close()
            else:
                await asyncio.wait_for(client.close(), 5)
        except Exception:  # noqa: BLE001 - teardown is best effort
            pass


async def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a blocking call (a sync supabase client request) off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)
