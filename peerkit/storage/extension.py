"""The storage family as an extension: the block store and its two actors."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..extension import Extension

if TYPE_CHECKING:
    from ..actor import ActorRef
    from ..config import PeerConfig
    from ..node import Node
    from .client import StorageClient
    from .store import BlockStore


class StorageExtension(Extension):
    name = "storage"
    store: BlockStore
    ref: ActorRef

    def enabled(self, config: PeerConfig) -> bool:
        return config.storage.enabled

    def install(self, node: Node) -> None:
        from .actor import Fetcher, StorageActor, open_store

        cfg = node.config.storage
        backend = cfg.backend
        if backend == "auto":
            backend = "sqlite" if node.config.source else "memory"
        self.store = open_store(backend, node.path(cfg.path) if backend == "sqlite" else None)
        self.ref = node.spawn(
            partial(StorageActor, self.store, gc_grace=cfg.gc_grace, clock=node.clock.now),
            name="storage",
        )
        node.spawn(partial(Fetcher, self.store), name="fetcher")
        node.on_stopped(self.store.close)

    def client(self, node: Node) -> StorageClient:
        from .client import StorageClient

        return StorageClient(node)
