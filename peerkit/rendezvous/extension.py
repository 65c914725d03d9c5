"""The rendezvous family as an extension: a rendezvous point, and/or its client."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..extension import Extension

if TYPE_CHECKING:
    from ..node import Node
    from .client import RendezvousApi
    from .registry import Registry


class RendezvousExtension(Extension):
    name = "rendezvous"
    #: the registry of a rendezvous point (None on other peers)
    registry: Registry | None = None

    def install(self, node: Node) -> None:
        from .actor import ReachChecker, RendezvousClient, RendezvousServer
        from .registry import Registry

        cfg = node.config.rendezvous
        if cfg.server:
            self.registry = Registry()
            node.spawn(
                partial(RendezvousServer, self.registry, clock=node.clock.monotonic),
                name="rendezvous",
            )
            node.spawn(ReachChecker, name="rendezvous-reach")
        if cfg.namespaces or cfg.prefer:
            node.spawn(
                partial(RendezvousClient, list(cfg.namespaces), list(cfg.prefer), cfg.ttl),
                name="rendezvous-client",
            )

    def client(self, node: Node) -> RendezvousApi:
        from .client import RendezvousApi

        return RendezvousApi(node)
