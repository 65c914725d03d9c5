"""Circuit relay v2 on py-libp2p 0.8.1 (runs in trio, inside the libp2p transport).

py-libp2p ships the protocol: the hop side (reservations, circuits with limits) and a client
(reserve, dial through a relay) work. Its listener for relayed connections does not: it reads
the relay's STOP CONNECT but never answers it, so the relay takes the first bytes of the
connection's own handshake for the answer and gives up. Our stop handler answers (STATUS OK),
then hands the stream to the swarm as an inbound connection, through peerkit's admission
control like any other (Noise and yamux run over it end to end: the relay sees ciphertext).

A peer that cannot be dialled reserves a slot at relays it is connected to and announces
``<relay address>/p2p-circuit/p2p/<its id>``; others dial that like any address (tried after
the direct ones).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import multiaddr
import trio
from libp2p.connection_types import ConnectionType
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.relay.circuit_v2.config import RelayConfig as LibRelayConfig
from libp2p.relay.circuit_v2.config import RelayRole
from libp2p.relay.circuit_v2.pb.circuit_pb2 import StopMessage
from libp2p.relay.circuit_v2.protocol import PROTOCOL_ID, STOP_PROTOCOL_ID, CircuitV2Protocol
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode, to_proto_status
from libp2p.relay.circuit_v2.resources import RelayLimits
from libp2p.relay.circuit_v2.transport import CircuitV2Transport
from libp2p.relay.circuit_v2.utils import read_delimited_msg, write_delimited_msg
from libp2p.tools.anyio_service import background_trio_service

from ..addresses import is_public
from ..config import RelayConfig

#: how long the stop handshake may take
_STOP_TIMEOUT = 10.0
#: a reservation is renewed this long before the relay would drop it
_RENEW_EVERY = 300.0
#: a peer that was not a relay (or refused) is asked again after this long
_ASK_AGAIN_AFTER = 600.0


def is_circuit(addr: str) -> bool:
    return "/p2p-circuit" in addr


def has_public_address(addrs: list[str]) -> bool:
    """Whether any of ``addrs`` is an address anyone can reach (not private, loopback,
    link-local or shared CGNAT space; the lab's internet counts as public)."""
    for addr in addrs:
        parts = addr.split("/")
        if len(parts) > 2 and parts[1] in ("ip4", "ip6") and is_public(parts[2]):
            return True
        if len(parts) > 2 and parts[1] in ("dns", "dns4", "dns6"):
            return True  # an announced name: its owner says it is reachable
    return False


class Relaying:
    """The relay parts of one host: the protocol (hop side when serving), our stop handler,
    py-libp2p's client for reservations and relayed dials."""

    def __init__(
        self,
        host: Any,
        config: RelayConfig,
        accept: Callable[[RawConnection, multiaddr.Multiaddr], Awaitable[None]],
    ) -> None:
        self.host = host
        self.config = config
        self._accept = accept
        #: called when ``reserved`` changes (what the peer announces changed)
        self.on_change: Callable[[], None] = lambda: None
        self.limits = RelayLimits(
            duration=config.circuit_seconds,
            data=config.circuit_bytes,
            max_circuit_conns=config.max_circuits,
            max_reservations=config.max_reservations,
        )
        self.protocol = CircuitV2Protocol(host, limits=self.limits, allow_hop=config.serve)
        roles = RelayRole.STOP | RelayRole.CLIENT
        if config.serve:
            roles |= RelayRole.HOP
        self.client = CircuitV2Transport(
            host, self.protocol, LibRelayConfig(roles=roles, limits=self.limits)
        )
        #: relay peer id -> the relay's address this peer is reachable through
        self.reserved: dict[str, str] = {}
        #: peers that are not relays (or refused us), and when we learnt it: not asked again
        #: for a while (a peer that routes dials dozens of peers, each would cost a stream)
        self._refused: dict[str, float] = {}

    async def run(self, ready: trio.Event) -> None:
        """The protocol service; our stop handler replaces py-libp2p's once it has started.
        Reservations are renewed well before relays drop them (an hour by default)."""
        async with background_trio_service(self.protocol):
            await self.protocol.event_started.wait()
            self.host.set_stream_handler(STOP_PROTOCOL_ID, self._on_stop)
            ready.set()
            while True:
                await trio.sleep(_RENEW_EVERY)
                await self.renew()

    async def renew(self) -> None:
        """Reserve again at every relay we hold a slot at; forget those that say no."""
        for relay, addr in list(self.reserved.items()):
            if not await self.reserve(relay, addr):
                self.forget(relay)

    async def _on_stop(self, stream: Any) -> None:
        """A relay carries a connection to us: answer its STOP CONNECT, then treat the stream
        as an inbound connection (admission control first, then Noise and yamux)."""
        try:
            with trio.fail_after(_STOP_TIMEOUT):
                msg = await read_delimited_msg(stream, StopMessage)
                if msg.type != StopMessage.CONNECT:
                    await stream.reset()
                    return
                source = ID(msg.peer.id)
                ok = StopMessage(type=StopMessage.STATUS, status=to_proto_status(StatusCode.OK))
                await write_delimited_msg(stream, ok)
        except Exception:  # a broken handshake from a relay: drop the stream, keep running
            await _reset(stream)
            return
        relay = stream.muxed_conn.peer_id
        addr = multiaddr.Multiaddr(f"/p2p/{relay}/p2p-circuit/p2p/{source}")
        raw = RawConnection(
            stream=stream, initiator=False, connection_type=ConnectionType.RELAYED, addresses=[addr]
        )
        await self._accept(raw, addr)

    def worth_asking(self, relay: str) -> bool:
        """Whether ``relay`` may give us a slot: not one that refused lately, nor one whose
        protocols (from identify) lack the relay's."""
        refused_at = self._refused.get(relay)
        if refused_at is not None and trio.current_time() - refused_at < _ASK_AGAIN_AFTER:
            return False
        try:
            protocols = self.host.get_peerstore().get_protocols(ID.from_base58(relay))
        except Exception:  # not identified yet: ask
            return True
        return not protocols or PROTOCOL_ID in protocols

    async def reserve(self, relay: str, relay_addr: str) -> bool:
        """Ask ``relay`` (connected) for a slot; True if it gave one (it is then announced)."""
        ok = await self._ask_for_slot(relay, relay_addr)
        if not ok:
            if len(self._refused) > 10_000:
                self._refused.clear()
            self._refused[relay] = trio.current_time()
        return ok

    async def _ask_for_slot(self, relay: str, relay_addr: str) -> bool:
        try:
            with trio.fail_after(_STOP_TIMEOUT):
                stream = await self.host.new_stream(ID.from_base58(relay), [PROTOCOL_ID])
                ok = await self.client._make_reservation(stream, ID.from_base58(relay))
        except Exception:  # not a relay, or it refused: no slot there
            return False
        if ok and self.reserved.get(relay) != relay_addr:
            self.reserved[relay] = relay_addr
            self.on_change()
        return bool(ok)

    async def dial(self, addr: str) -> None:
        """Connect through the relay named in ``addr`` (…/p2p/<relay>/p2p-circuit/p2p/<peer>)."""
        await self.client.dial(multiaddr.Multiaddr(addr))

    def announced(self, peer_id: str) -> list[str]:
        return [f"{addr}/p2p-circuit/p2p/{peer_id}" for addr in self.reserved.values()]

    def forget(self, relay: str) -> None:
        if self.reserved.pop(relay, None) is not None:
            self.on_change()


async def _reset(stream: Any) -> None:
    try:
        await stream.reset()
    except Exception:  # already gone
        pass


__all__ = ["Relaying", "has_public_address", "is_circuit"]
