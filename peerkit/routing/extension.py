"""The routing family as an extension: the routing table and record store, the actor that
answers other peers, and ``node.routing`` (lookups, run in the caller's task)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ..extension import Extension

if TYPE_CHECKING:
    from ..config import PeerConfig
    from ..node import Node
    from .client import RoutingClient
    from .records import Namespace, RecordStore
    from .table import RoutingTable


class RoutingExtension(Extension):
    name = "routing"
    store: RecordStore
    _table: RoutingTable | None = None
    #: peers that said they run lookups for others (``serve_delegated``)
    delegates: set[str]
    counts: Counter[str]

    def enabled(self, config: PeerConfig) -> bool:
        return config.routing.enabled

    def install(self, node: Node) -> None:
        from .actor import DelegatedLookups, RoutingActor
        from .records import RecordStore

        cfg = node.config.routing
        self.store = RecordStore(max_keys=cfg.max_records, max_per_peer=cfg.max_records_per_peer)
        self.delegates = set()
        #: lookups run here, the requests they sent and the bytes of the answers (benchmarks,
        #: /metrics)
        self.counts: Counter[str] = Counter()
        node.spawn(RoutingActor, name="routing")
        if cfg.serve_delegated:
            node.spawn(DelegatedLookups, name="routing-delegate")

    def register_namespace(self, namespace: str, kind: Namespace) -> None:
        """Say how records of ``namespace`` are validated and compared (at install: the
        naming family registers "names")."""
        self.store.namespaces[namespace] = kind

    def table(self, node: Node) -> RoutingTable:
        """The routing table (made once the node knows its own id: at start)."""
        from .table import RoutingTable

        if self._table is None:
            self._table = RoutingTable(node.peer_id)
        return self._table

    def client(self, node: Node) -> RoutingClient:
        from .client import RoutingClient

        return RoutingClient(node)
