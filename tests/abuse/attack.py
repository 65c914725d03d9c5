"""The attacker's and the bystander's tools for the abuse suite.

A *victim* is a stock ``peerkit run`` peer in its own OS process (SQLite store, gateway on
loopback). An *attacker* is a peerkit node driven below the router: it writes raw envelope
bodies on a session stream and publishes raw bytes on gossip topics. A *bystander* is a
well-behaved client that arrives during or after the attack and must still be served.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from peerkit import Node, PeerConfig
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
async def victim(tmp_path: Path, name: str = "victim", extra: str = ""):
    proc = await PeerProcess(tmp_path, name, extra=VICTIM_YAML + extra).start()
    try:
        yield proc
    finally:
        if proc.running:
            await proc.terminate()


@asynccontextmanager
async def client(name: str, **cfg: Any):
    node = Node(PeerConfig(name=name, **cfg))
    await node.start()
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
