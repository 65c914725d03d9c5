"""The naming family as an extension: verified record logs, head watchers, the name keeper."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from ..clock import utc
from ..extension import Extension

if TYPE_CHECKING:
    from ..actor import ActorRef
    from ..config import PeerConfig
    from ..node import Node
    from .actor import NameHeads
    from .client import NamingClient


class NamingExtension(Extension):
    name = "naming"
    # record logs are persisted as blocks; republishing for an owner is a delegated capability
    # (routing, when enabled, carries records to peers beyond the connected ones)
    needs = ("auth", "storage")
    uses = ("routing",)
    ref: ActorRef
    heads: NameHeads
    #: one refresh task per watched name, however many watch it (naming/client.py)
    refreshing: dict[str, asyncio.Task[None]]

    def enabled(self, config: PeerConfig) -> bool:
        return config.storage.enabled

    def install(self, node: Node) -> None:
        from .actor import NameHeads, NamingActor
        from .keeper import NameKeeper

        self.heads = NameHeads()
        self.refreshing = {}
        self.ref = node.spawn(
            partial(
                NamingActor,
                self.heads,
                clock=partial(utc, node.clock),
                history=node.config.naming.history,
            ),
            name="naming",
        )
        cfg = node.config.naming
        node.spawn(
            partial(
                NameKeeper,
                max_names_per_user=cfg.keep_names_per_user,
                max_bytes_per_user=cfg.keep_bytes_per_user,
            ),
            name="name-keeper",
        )
        from ..routing.extension import RoutingExtension
        from .routing import NAMESPACE, names_namespace

        routing = node.extension(RoutingExtension)
        if routing is not None:  # name records travel in the DHT too
            routing.register_namespace(NAMESPACE, names_namespace())

    def client(self, node: Node) -> NamingClient:
        from .client import NamingClient

        return NamingClient(node)
