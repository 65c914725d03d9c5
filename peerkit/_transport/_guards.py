"""What strangers may cost the libp2p side: admission, reply queues, and dead links.

One ``Guards`` per transport keeps the counts ``limits:`` in peer.yaml bounds (docs/limits.md):

- inbound connections, in all and per IP, counted from the moment a socket is accepted until
  the connection ends (handshakes included), closed at once past either limit;
- session streams per peer;
- reply bytes owed per peer and in all (the router answers "busy" past the budget; a channel
  resets a peer that still does not read);
- keepalive: every connection is pinged each interval, and one that does not answer in time is
  closed, so requests on it fail at once and bootstrap/rendezvous redial.

What was refused or closed is counted by reason in ``refused`` (``peerkit_limited_total``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p.host.ping import PingService
from libp2p.peer.id import ID
from libp2p.stream_muxer.yamux.yamux import FLAG_SYN, TYPE_PING, YAMUX_HEADER_FORMAT, Yamux

from ..config import LimitsConfig


class Guards:
    def __init__(self, limits: LimitsConfig, max_frame: int) -> None:
        self.limits = limits
        #: beyond this many reply bytes owed to one peer its stream is reset
        self.hard_queue_cap = 2 * limits.max_queued_bytes_per_peer + max_frame
        self.refused: Counter[str] = Counter()
        #: keepalive pings by kind ("frame": a yamux PING answered; "stream": the ping protocol)
        self.pings: Counter[str] = Counter()
        self.inbound_total = 0
        self.queued_total = 0
        self._per_ip: Counter[str] = Counter()
        self._streams: Counter[str] = Counter()
        self._queued: Counter[str] = Counter()
        self._exempt_networks = [
            ipaddress.ip_network(n, strict=False) for n in limits.per_ip_exempt
        ]

    # --- connections ----------------------------------------------------------------------

    async def admit_inbound(
        self, handle: Callable[[Any, Any], Awaitable[None]], conn: Any, maddr: Any
    ) -> None:
        """Run libp2p's handler for a new inbound connection if the inbound cap and its IP's
        share allow; close it at once otherwise. The handler runs for the connection's whole
        life, so the counts hold until it ends."""
        ip = remote_ip(conn)
        limits = self.limits
        reason = None
        if self.inbound_total >= limits.max_inbound_connections:
            reason = "inbound_full"
        elif self._per_ip[ip] >= limits.max_connections_per_ip and not self._exempt(ip):
            reason = "per_ip"
        if reason is not None:
            self.refused[reason] += 1
            with trio.move_on_after(1):
                try:
                    await conn.close()
                except Exception:
                    pass
            return
        self.inbound_total += 1
        self._per_ip[ip] += 1
        try:
            await handle(conn, maddr)
        finally:
            self.inbound_total -= 1
            self._per_ip[ip] -= 1
            if not self._per_ip[ip]:
                del self._per_ip[ip]

    def _exempt(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self._exempt_networks)

    # --- streams --------------------------------------------------------------------------

    def open_stream(self, peer: str) -> bool:
        """Count a session stream ``peer`` opened; False (not counted) past its limit."""
        if self._streams[peer] >= self.limits.max_streams_per_peer:
            self.refused["streams"] += 1
            return False
        self._streams[peer] += 1
        return True

    def close_stream(self, peer: str) -> None:
        self._streams[peer] -= 1
        if self._streams[peer] <= 0:
            del self._streams[peer]

    # --- reply bytes owed -----------------------------------------------------------------

    def account(self, peer: str, delta: int) -> None:
        """Reply bytes owed to ``peer`` went up or down by ``delta`` (called by its channels)."""
        n = self._queued[peer] + delta
        if n > 0:
            self._queued[peer] = n
        else:
            self._queued.pop(peer, None)
        self.queued_total += delta

    def queued_for(self, peer: str | None = None) -> int:
        return self.queued_total if peer is None else self._queued.get(peer, 0)

    # --- liveness -------------------------------------------------------------------------

    async def keepalive(self, host: Any, on_dead: Callable[[ID], None]) -> None:
        """Ping every connection each interval; close one that does not answer in time (a
        partition is otherwise noticed only when TCP gives up, after many minutes)."""
        service = PingService(host)
        while True:
            await trio.sleep(self.limits.keepalive_interval)
            async with trio.open_nursery() as nursery:
                for peer in list(host.get_network().connections):
                    nursery.start_soon(self._ping_or_close, host, service, peer, on_dead)

    async def _ping_or_close(
        self, host: Any, service: Any, peer: ID, on_dead: Callable[[ID], None]
    ) -> None:
        # A yamux PING frame first: no stream, no protocol negotiation. py-libp2p's ping
        # protocol opens a stream per ping, and a peer that routes holds dozens of connections
        # (50 peers pinging theirs every 15 s kept more than a core busy). The stream ping
        # only decides when the frame ping got no answer.
        conns = host.get_network().connections.get(peer) or []
        if conns and await _frame_ping(conns[0], self.limits.keepalive_timeout / 2):
            self.pings["frame"] += 1
            return
        self.pings["stream"] += 1
        with trio.move_on_after(self.limits.keepalive_timeout) as waited:
            try:
                await service.ping(peer)
            except Exception:
                # It answered, if only to refuse ping (some peers do not speak it), or the
                # connection is already gone (the swarm reports that itself): alive or moot.
                pass
        if not waited.cancelled_caught:
            return
        self.refused["keepalive"] += 1
        on_dead(peer)
        with trio.move_on_after(2):
            try:
                await host.disconnect(peer)
            except Exception:
                pass


async def _frame_ping(conn: Any, timeout: float) -> bool:
    """A yamux PING on ``conn`` answered within ``timeout`` (False: no answer, or not
    yamux). It shares py-libp2p's RTT bookkeeping (one pong event per connection): a pong
    taken by its own RTT probe at the same moment reads as no answer, and the caller then
    asks with the ping protocol."""
    muxed = getattr(conn, "muxed_conn", None)
    if not isinstance(muxed, Yamux) or not muxed.is_established:
        return False
    event = trio.Event()
    muxed._ping_event = event
    muxed._ping_id += 1
    muxed._ping_sent_time = trio.current_time()
    try:
        await muxed._write_frame(
            struct.pack(YAMUX_HEADER_FORMAT, 0, TYPE_PING, FLAG_SYN, 0, muxed._ping_id)
        )
    except Exception:  # the connection is going: the stream ping will say so
        return False
    with trio.move_on_after(timeout):
        await event.wait()
        return True
    return False


def remote_ip(conn: Any) -> str:
    """The remote IP of a raw inbound connection ("?" when the transport does not say)."""
    try:
        addr = conn.get_remote_address()
        if addr:
            return str(addr[0])
    except Exception:
        pass
    return "?"
