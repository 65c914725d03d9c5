"""``node.rendezvous``: find peers by namespace at the node's rendezvous points."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PeerkitError
from .messages import Discover, Discovered, PeerRecord, Register, Registered

if TYPE_CHECKING:
    from ..node import Node


class RendezvousApi:
    """Ask the connected rendezvous points (the node's bootstrap peers) directly."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def points(self) -> list[str]:
        """Peer ids of the configured rendezvous points that are connected now."""
        connected = set(self.node.peers())
        ids = [a.rsplit("/p2p/", 1)[-1] for a in self.node.config.bootstrap]
        return [p for p in ids if p in connected]

    async def discover(self, namespace: str, *, limit: int = 100) -> list[PeerRecord]:
        """Peers registered under ``namespace`` at any connected point (this peer left out)."""
        found: dict[str, PeerRecord] = {}
        for point in self._points_or_fail():
            reply: Discovered = await self.node.request(
                point, Discover(namespace=namespace, limit=limit), timeout=5
            )
            for rec in reply.registrations:
                if rec.peer != self.node.peer_id:
                    found.setdefault(rec.peer, rec)
        return list(found.values())

    async def register(self, namespace: str, *, ttl: float = 7200.0) -> float:
        """Register this peer once at every connected point; returns the granted TTL."""
        granted = ttl
        for point in self._points_or_fail():
            reply: Registered = await self.node.request(
                point, Register(namespace=namespace, addrs=self.node.addrs(), ttl=ttl), timeout=5
            )
            granted = min(granted, reply.ttl)
        return granted

    def _points_or_fail(self) -> list[str]:
        points = self.points()
        if not points:
            raise PeerkitError(
                "no rendezvous point is connected",
                hint="list a rendezvous point under bootstrap: in peer.yaml",
            )
        return points
