"""In-process peers: the fast twin of the libp2p transport, for tests and the app test kit.

Peers on one :class:`MemoryNetwork` dial each other by address (``/memory/<name>/p2p/<id>``).
Frames go through the same FrameDecoder and size limit as on the real network, and delivery is
asynchronous (``call_soon``), so code that works here does not depend on re-entrancy that the
real transport would not give it. Pubsub reaches every subscriber connected, directly or through
other peers, to the publisher.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import deque

from ..errors import DialFailed, PeerDisconnected, PeerkitError, TransportError, WireError
from ..identity import peer_id_of_seed
from ..wire import DEFAULT_MAX_FRAME, FrameDecoder, decode_envelope, encode_frame
from .base import Channel, Inbound, Transport

_counter = itertools.count(1)


class MemoryNetwork:
    """The shared medium of a set of memory transports."""

    def __init__(self) -> None:
        self.peers: dict[str, MemoryTransport] = {}

    def reachable(self, start: str) -> set[str]:
        seen = {start}
        todo = deque([start])
        while todo:
            t = self.peers.get(todo.popleft())
            if t is None:
                continue
            for p in t._links:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen


DEFAULT_NETWORK = MemoryNetwork()


class MemoryChannel(Channel):
    def __init__(self, owner: MemoryTransport, peer: str, outbound: bool) -> None:
        self.owner = owner
        self.peer = peer
        self.outbound = outbound
        self.other: MemoryChannel | None = None
        self._decoder = FrameDecoder(owner.max_frame)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, body: bytes) -> None:
        if self._closed or self.other is None:
            raise PeerDisconnected(f"channel to {self.peer} is closed", peer=self.peer)
        asyncio.get_running_loop().call_soon(self.other._receive, encode_frame(body))

    async def drain(self) -> None:
        await asyncio.sleep(0)
        if self._closed:
            raise PeerDisconnected(f"channel to {self.peer} is closed", peer=self.peer)

    def reset(self) -> None:
        self._close(None, both=True)

    def _receive(self, frame: bytes) -> None:
        if self._closed:
            return
        inbound = self.owner._inbound
        try:
            for body in self._decoder.feed(frame):
                env = decode_envelope(body)
                if inbound is not None:
                    inbound.on_envelope(self, env)
        except WireError as exc:
            self.owner.wire_errors += 1
            self._close(exc, both=True)
        except Exception as exc:  # as on libp2p: a bug on our side costs the stream only
            self.owner.internal_errors += 1
            self._close(TransportError(f"internal error: {type(exc).__name__}"), both=True)

    def _close(self, error: PeerkitError | None, *, both: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self.owner._forget(self)
        if self.owner._inbound is not None:
            self.owner._inbound.on_channel_closed(self, error)
        if both and self.other is not None:
            other = self.other
            reason = PeerDisconnected(f"{other.peer} reset the stream", peer=other.peer)
            asyncio.get_running_loop().call_soon(lambda: other._close(reason, both=False))


class MemoryTransport(Transport):
    def __init__(
        self,
        *,
        name: str | None = None,
        network: MemoryNetwork | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        seed: bytes | None = None,
    ) -> None:
        self.network = network or DEFAULT_NETWORK
        n = next(_counter)
        self.name = name or f"peer{n}"
        # A real Ed25519 key, so peer ids look and verify as on libp2p (Multiauth binds an
        # invocation's signer to the sending peer the same way on both transports).
        self.seed = seed or os.urandom(32)
        self.peer_id = peer_id_of_seed(self.seed)
        self.max_frame = max_frame
        self._inbound: Inbound | None = None
        self.internal_errors = 0
        self._links: set[str] = set()
        self._outbound: dict[str, MemoryChannel] = {}
        self._channels: set[MemoryChannel] = set()
        self._topics: set[str] = set()
        self._running = False
        self.wire_errors = 0

    async def start(self, inbound: Inbound) -> None:
        if self.peer_id in self.network.peers:
            raise DialFailed(f"a memory peer with id {self.peer_id} is already running")
        self._inbound = inbound
        self.network.peers[self.peer_id] = self
        self._running = True

    async def close(self) -> None:
        if not self._running:
            return
        self._running = False
        for peer in list(self._links):
            await self.disconnect(peer)
        self.network.peers.pop(self.peer_id, None)

    def addrs(self) -> list[str]:
        return [f"/memory/{self.name}/p2p/{self.peer_id}"]

    def connected_peers(self) -> list[str]:
        return sorted(self._links)

    async def connect(self, addr: str, *, timeout: float = 10.0) -> str:
        peer = addr.rsplit("/p2p/", 1)[-1] if "/p2p/" in addr else ""
        other = self.network.peers.get(peer)
        if other is None or not other._running:
            raise DialFailed(f"cannot connect to {addr}: no such memory peer is running")
        if peer not in self._links:
            self._links.add(peer)
            other._links.add(self.peer_id)
            if self._inbound is not None:
                self._inbound.on_peer(peer, True, dialled=True)
            if other._inbound is not None:
                other._inbound.on_peer(self.peer_id, True)
        await asyncio.sleep(0)
        return peer

    async def disconnect(self, peer: str) -> None:
        other = self.network.peers.get(peer)
        for chan in [c for c in self._channels if c.peer == peer]:
            chan._close(PeerDisconnected(f"disconnected from {peer}", peer=peer), both=True)
        if peer in self._links:
            self._links.discard(peer)
            if self._inbound is not None:
                self._inbound.on_peer(peer, False)
        if other is not None and self.peer_id in other._links:
            other._links.discard(self.peer_id)
            if other._inbound is not None:
                other._inbound.on_peer(self.peer_id, False)
        await asyncio.sleep(0)

    async def channel(self, peer: str) -> Channel:
        chan = self._outbound.get(peer)
        if chan is not None and not chan.closed:
            return chan
        other = self.network.peers.get(peer)
        if other is None or peer not in self._links:
            raise PeerDisconnected(f"not connected to {peer}", peer=peer)
        mine = MemoryChannel(self, peer, outbound=True)
        theirs = MemoryChannel(other, self.peer_id, outbound=False)
        mine.other, theirs.other = theirs, mine
        self._outbound[peer] = mine
        self._channels.add(mine)
        other._channels.add(theirs)
        return mine

    def _forget(self, chan: MemoryChannel) -> None:
        self._channels.discard(chan)
        if self._outbound.get(chan.peer) is chan:
            del self._outbound[chan.peer]

    async def subscribe(self, topic: str) -> None:
        self._topics.add(topic)

    async def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)

    def subscribers(self, topic: str) -> list[str]:
        return sorted(
            p
            for p in self.network.reachable(self.peer_id) - {self.peer_id}
            if topic in self.network.peers[p]._topics
        )

    async def publish(self, topic: str, body: bytes) -> None:
        if len(body) > self.max_frame:
            raise WireError(f"event of {len(body)} bytes exceeds the frame limit")
        env = decode_envelope(body)
        loop = asyncio.get_running_loop()
        for peer in self.network.reachable(self.peer_id) - {self.peer_id}:
            other = self.network.peers[peer]
            if topic in other._topics and other._inbound is not None:
                loop.call_soon(other._inbound.on_published, topic, self.peer_id, env)
        await asyncio.sleep(0)

    def stats(self) -> dict[str, int]:
        return {
            "channels": len(self._channels),
            "connections": len(self._links),
            "wire_errors": self.wire_errors,
        }
