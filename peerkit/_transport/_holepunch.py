"""Hole punching: DCUtR upgrades a relayed connection to a direct one (runs in trio).

py-libp2p 0.8.1 ships the protocol (``/libp2p/dcutr``) with what TCP hole punching needs:
listeners with SO_REUSEPORT, hole-punch dials bound to the listen port (so the home router maps
them to the port the other side was told), the simultaneous-open roles, retry rounds, and a
drive loop that tries every relayed connection. What it leaves open, closed here:

- **Who may ask.** Its handler answers a CONNECT on any connection and then dials whatever
  addresses the message lists. A stranger connected directly could make us send SYNs to any
  host (our own LAN included). We answer only on relayed connections (the one case the
  protocol is for), and dial only public addresses the message names, at most
  ``_MAX_ADDRS`` of them, with a bounded number of sessions at once.
- **What happened.** Attempts, upgrades and failures are counted (``stats``): the share of
  relayed connections that became direct is the figure that tells a NAT type from another.

After an upgrade py-libp2p closes the relayed leg after a grace period (60 s); new streams pick
the direct connection (it prefers direct ones), and the transport moves its session stream
over (``Libp2pTransport._direct_connection``).
"""

from __future__ import annotations

from typing import Any

import trio
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from multiaddr import Multiaddr

from ..addresses import dial_rank, is_public, local_networks

#: addresses of the other side we try, from its CONNECT message
_MAX_ADDRS = 8
#: sessions answered at once (each may dial for ~20 s)
_MAX_SESSIONS = 16
#: one hole-punch dial (the round that runs it is 5 s: a late SYN-ACK is no use)
_DIAL_TIMEOUT = 5
#: a CONNECT or SYNC may take this long to come (they go through the relay)
_MESSAGE_TIMEOUT = 10


def on_relayed_connection(stream: Any) -> bool:
    """Whether ``stream`` runs over a relayed connection."""
    try:
        addrs = stream.muxed_conn.get_transport_addresses()
    except Exception:  # a connection without addresses: not one a relay carries
        return False
    return any("/p2p-circuit" in str(a) for a in addrs)


def punchable(addr: Multiaddr) -> bool:
    """An address another peer may make us dial: a public IP with a TCP port, nothing else."""
    parts = str(addr).split("/")
    if len(parts) != 5 or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
        return False
    return is_public(parts[2]) and parts[4].isdigit() and 0 < int(parts[4]) < 65536


class HolePunching(DCUtRProtocol):
    """DCUtR with peerkit's bounds (see the module docstring); counts what it does."""

    def __init__(self, host: Any) -> None:
        super().__init__(
            host,
            read_timeout=_MESSAGE_TIMEOUT,
            write_timeout=_MESSAGE_TIMEOUT,
            dial_timeout=_DIAL_TIMEOUT,
        )
        self.counts = {"attempts": 0, "direct": 0, "failed": 0, "refused": 0}
        self._sessions = 0

    async def _handle_dcutr_stream(self, stream: Any) -> None:
        if not on_relayed_connection(stream) or self._sessions >= _MAX_SESSIONS:
            self.counts["refused"] += 1
            with trio.move_on_after(1):
                try:
                    await stream.reset()
                except Exception:  # already gone
                    pass
            return
        self._sessions += 1
        try:
            await super()._handle_dcutr_stream(stream)
        finally:
            self._sessions -= 1

    def _decode_observed_addrs(self, addr_bytes: list[bytes]) -> list[Multiaddr]:
        addrs = []
        for raw in addr_bytes[: 4 * _MAX_ADDRS]:
            try:
                addr = Multiaddr(raw)
                usable = punchable(addr)  # (py-multiaddr parses lazily: this may raise too)
            except Exception:  # not a multiaddr: skipped, like any address we cannot use
                continue
            if usable:
                addrs.append(addr)
        return addrs[:_MAX_ADDRS]

    async def _try_unilateral_upgrade(self, peer_id: Any) -> bool:
        """Before punching, dial the peer's addresses that could answer: public ones and those
        on our own networks. (py-libp2p dials every address it knows, and another home's
        private address only times out: 5 s lost before every hole punch.)"""
        networks = local_networks()
        try:
            known = self.host.get_peerstore().addrs(peer_id)
        except Exception:  # nothing known: nothing to try
            return False
        addrs = [a for a in known if dial_rank(str(a), networks) <= 1]
        if not addrs:
            return False
        with trio.move_on_after(self.dial_timeout):
            async with trio.open_nursery() as nursery:
                for addr in addrs:
                    nursery.start_soon(self._dial_peer, peer_id, addr)
        return bool(await self._verify_direct_connection(peer_id))

    async def _perform_hole_punch(
        self, peer_id: Any, addrs: list[Multiaddr], as_responder: bool = False
    ) -> bool:
        self.counts["attempts"] += 1
        ok = await super()._perform_hole_punch(peer_id, addrs, as_responder)
        self.counts["direct" if ok else "failed"] += 1
        return ok


__all__ = ["HolePunching", "on_relayed_connection", "punchable"]
