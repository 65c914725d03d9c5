"""AutoNAT v1 (``/libp2p/autonat/1.0.0``): tell any libp2p peer whether others can dial it.

Peers that relay answer it, for peers of every implementation (go, rust, js-libp2p ask the peers
they meet). py-libp2p 0.8.1 ships the server, already careful about whom it dials (only the
asker's addresses at the IP its connection comes from, never over a relay), but it dials back
with the host that holds the asker's connection: ``host.connect`` returns that connection at
once, so every asker heard "reachable". Here the dial-back goes out from a throwaway host
(``Libp2pTransport.dial_back``, the one peerkit's own check uses), the peer dialled is the one
asking (not any id the message names), and what askers can make us spend is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p.host.autonat.autonat import AutoNATService
from libp2p.host.autonat.pb.autonat_pb2 import Message
from libp2p.peer.id import ID
from multiaddr import Multiaddr

#: addresses of one request we dial back (after keeping only those at the asker's IP)
_MAX_DIALS = 4
#: a peer may ask this often (seconds between two answered requests)
_PER_PEER_EVERY = 20.0
#: askers remembered for the per-peer pause (the oldest are forgotten first)
_REMEMBERED = 4096

DialBack = Callable[[str, list[str]], Awaitable[list[str]]]


class AutoNATServer(AutoNATService):
    """The server half only (peerkit asks its rendezvous points, docs/network.md)."""

    def __init__(self, host: Any, dial_back: DialBack) -> None:
        super().__init__(host, serve=True)
        self._dial_back = dial_back
        self._one_at_a_time = trio.Lock()
        self._last_asked: dict[ID, float] = {}
        self.counts = {"asked": 0, "reachable": 0, "unreachable": 0, "refused": 0}

    async def handle_stream(self, stream: Any) -> None:
        asker = stream.muxed_conn.peer_id
        now = time.monotonic()
        last = self._last_asked.get(asker)
        if (last is not None and now - last < _PER_PEER_EVERY) or self._one_at_a_time.locked():
            self.counts["refused"] += 1
            await _reset(stream)  # too often, or busy: ask again later (or ask another peer)
            return
        self._remember(asker, now)
        async with self._one_at_a_time:
            self._asker = asker
            await super().handle_stream(stream)

    async def _handle_dial(
        self, message: Message, observed_ip: str | None, is_relayed: bool
    ) -> Message:
        self.counts["asked"] += 1
        if message.dial.peer.id != self._asker.to_bytes():
            response = Message(type=Message.DIAL_RESPONSE)
            response.dialResponse.status = Message.E_BAD_REQUEST
            response.dialResponse.statusText = "dial-back is for the peer asking"
            self.counts["refused"] += 1
            return response
        response = await super()._handle_dial(message, observed_ip, is_relayed)
        if response.dialResponse.status == Message.OK:
            self.counts["reachable"] += 1
        elif response.dialResponse.status == Message.E_DIAL_ERROR:
            self.counts["unreachable"] += 1
        else:
            self.counts["refused"] += 1
        return response

    async def _try_dial(self, peer_id: ID, addrs: list[bytes]) -> bytes | None:
        suffix = f"/p2p/{peer_id.to_base58()}"
        texts = []
        for raw in addrs[:_MAX_DIALS]:
            try:
                text = str(Multiaddr(raw))
            except Exception:  # (already parsed once by the IP filter; kept strict)
                continue
            if "/p2p-circuit" not in text:
                texts.append(text if text.endswith(suffix) else text + suffix)
        reached = await self._dial_back(peer_id.to_base58(), texts) if texts else []
        return Multiaddr(reached[0].removesuffix(suffix)).to_bytes() if reached else None

    def _remember(self, asker: ID, now: float) -> None:
        self._last_asked.pop(asker, None)
        self._last_asked[asker] = now  # (insertion order is the order of asking)
        if len(self._last_asked) > _REMEMBERED:
            del self._last_asked[next(iter(self._last_asked))]


async def _reset(stream: Any) -> None:
    with trio.move_on_after(1):
        try:
            await stream.reset()
        except Exception:  # already gone
            pass


__all__ = ["AutoNATServer"]
