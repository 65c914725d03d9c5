"""The attacker's and the bystander's tools for the abuse suite.

A *victim* is a stock ``peerkit run`` peer in its own OS process (SQLite store, gateway on
loopback). An *attacker* is a peerkit node driven below the router: it writes raw envelope
bodies on a session stream and publishes raw bytes on gossip topics. A *bystander* is a
well-behaved client that arrives during or after the attack and must still be served.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from peerkit import Node, PeerConfig
from peerkit._transport.base import PROTOCOL_ID
from peerkit.storage.messages import PinList, PinLs
from tests.integration.procs import PeerProcess

VICTIM_YAML = "gateway: {enabled: true}\n"


def raw_envelope(kind: int, tag: str, payload: bytes, rid: int = 0) -> bytes:
    """An envelope body with a payload given as raw msgpack bytes."""
    return (
        b"\x94"
        + msgspec.msgpack.encode(kind)
        + msgspec.msgpack.encode(rid)
        + msgspec.msgpack.encode(tag)
        + payload
    )


@asynccontextmanager
async def victim(tmp_path: Path, name: str = "victim", extra: str = "", bootstrap=()):
    proc = await PeerProcess(tmp_path, name, extra=VICTIM_YAML + extra, bootstrap=bootstrap).start()
    try:
        yield proc
    finally:
        if proc.running:
            await proc.terminate()


@asynccontextmanager
async def client(name: str, *, attacker: bool = False, **cfg: Any):
    """A peer in this process; ``attacker=True`` switches off the checks a peerkit node makes
    on what it sends itself (gossip validation, rate limits), as a hostile peer would."""
    node = Node(PeerConfig(name=name, **cfg))
    await node.start()
    if attacker:
        pubsub = node.transport._pubsub  # type: ignore[attr-defined]
        pubsub._accept = lambda data: True
        pubsub._pace = None
    try:
        yield node
    finally:
        await node.stop()


async def served(victim_addr: str, peer_id: str, *, timeout: float = 10.0) -> float:
    """A new client connects and gets an answer: the round trip in ms (AssertionError if not)."""
    async with client("bystander") as node:
        start = time.perf_counter()
        await node.connect(victim_addr, timeout=timeout)
        reply = await node.request(peer_id, PinLs(), timeout=timeout)
        assert isinstance(reply, PinList)
        return (time.perf_counter() - start) * 1000


async def gateway_json(proc: PeerProcess, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(proc.gateway + path) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def metric(proc: PeerProcess, name: str) -> float:
    """The sum of a metric's samples in the victim's /metrics."""
    _, text = await gateway_json(proc, "/metrics")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll an async predicate on every loop turn (for state only visible over HTTP)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


# --- below the router: raw libp2p streams and raw TCP -----------------------------------------

SOAK = bool(os.environ.get("PEERKIT_SOAK"))


def scale(fast: int, soak: int) -> int:
    """An attack's size: small in ``make test``, large in ``make soak``."""
    return soak if SOAK else fast


def on_trio(node: Node, fn: Any, *args: Any) -> Any:
    """Run a trio coroutine function on ``node``'s libp2p side (a future to await)."""
    return node.transport.bridge.call(fn, *args)  # type: ignore[attr-defined]


def session_stream(node: Node, peer: str) -> Any:
    """A raw peerkit session stream to ``peer`` (trio side): write frames, read nothing."""
    from libp2p.custom_types import TProtocol
    from libp2p.peer.id import ID

    async def open_it() -> Any:
        host = node.transport._host  # type: ignore[attr-defined]
        return await host.new_stream(ID.from_base58(peer), [TProtocol(PROTOCOL_ID)])

    return on_trio(node, open_it)


def flood_topic(node: Node, topic: str, data: bytes, count: int) -> Any:
    """Publish ``count`` messages as fast as gossipsub takes them (trio side, no pacing)."""

    async def flood() -> None:
        pubsub = node.transport._pubsub  # type: ignore[attr-defined]
        for _ in range(count):
            await pubsub.publish(topic, data)

    return on_trio(node, flood)


def trio_write(node: Node, stream: Any, data: bytes) -> Any:
    """Write on a raw stream; resolves False when the victim reset it meanwhile (its right)."""

    async def write() -> bool:
        try:
            await stream.write(data)
        except Exception:
            return False
        return True

    return on_trio(node, write)


def trio_reset(node: Node, stream: Any) -> Any:
    return on_trio(node, stream.reset)


async def raw_tcp(host: str, port: int, count: int, *, source: str) -> list[Any]:
    """``count`` raw TCP connections from ``source`` (a 127.x address) that never handshake."""
    conns = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((source, 0))
        try:
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except OSError:
            sock.close()
            continue
        conns.append(sock)
    return conns


def tcp_port(addr: str) -> int:
    return int(addr.split("/tcp/")[1].split("/")[0])


def report(attack: str, **figures: Any) -> None:
    """One line of figures per attack; ``pytest -s tests/abuse`` prints them for the notes."""
    print(f"\nABUSE {attack}: " + json.dumps(figures))
