"""The storage family as an extension: the block store and its two actors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..extension import Extension

if TYPE_CHECKING:
    from ..actor import Actor, ActorRef
    from ..blocks import CID
    from ..config import PeerConfig
    from ..node import Node
    from .client import StorageClient
    from .store import BlockStore


class StorageExtension(Extension):
    name = "storage"
    needs = ("auth",)  # handlers declare requires= (peerkit.auth.guard.Requires)
    uses = ("routing",)  # pinned roots are announced in the DHT; fetch asks it for providers
    store: BlockStore
    ref: ActorRef

    def enabled(self, config: PeerConfig) -> bool:
        return config.storage.enabled

    def install(self, node: Node) -> None:
        from .actor import Fetcher, StorageActor

        cfg = node.config.storage
        # with routing on, pinned roots are announced in the DHT (storage-provide)
        self.pinned: asyncio.Queue[CID] | None = None
        from .providing import Announcing

        self.announcing = Announcing()
        if node.has("routing"):
            from .providing import ContentProvider

            self.pinned = asyncio.Queue(maxsize=10_000)
            node.spawn(
                _Build(
                    ContentProvider,
                    lambda: ContentProvider(self.store, self._pinned_queue(), self.announcing),
                ),
                name="storage-provide",
            )
        # The factories read self.store when the supervisor builds the actors, after start()
        # has opened it: the node's constructor opens no file.
        self.ref = node.spawn(
            _Build(
                StorageActor,
                lambda: StorageActor(
                    self.store,
                    gc_grace=cfg.gc_grace,
                    gc_every=cfg.gc_every,
                    clock=node.clock.now,
                    on_pinned=self._announce,
                ),
            ),
            name="storage",
        )
        node.spawn(_Build(Fetcher, lambda: Fetcher(self.store)), name="fetcher")

    async def start(self, node: Node) -> None:
        from .actor import open_store

        cfg = node.config.storage
        backend = cfg.backend
        if backend == "auto":
            backend = "sqlite" if node.config.source else "memory"
        path = node.path(cfg.path) if backend == "sqlite" else None
        if path is not None:  # one peer per store (a second would trust a stale view of it)
            from ..locks import hold

            self._lock = hold(path, what="the block store", source=node.config.source)
        try:
            self.store = open_store(backend, path)
        except BaseException:
            self._release()
            raise

    async def stop(self, node: Node) -> None:
        store = self.__dict__.pop("store", None)
        if store is not None:
            store.close()
        self._release()

    def _release(self) -> None:
        lock = self.__dict__.pop("_lock", None)
        if lock is not None:
            lock.release()

    def _announce(self, name: str, root: CID) -> None:
        from .providing import announced

        if self.pinned is not None and announced(name):
            try:
                self.pinned.put_nowait(root)
            except asyncio.QueueFull:  # the regular re-announcement covers it
                return
            self.announcing.queued(root)

    def _pinned_queue(self) -> asyncio.Queue[CID]:
        assert self.pinned is not None
        return self.pinned

    def client(self, node: Node) -> StorageClient:
        """Storage's API. Valid once the node has started (the store opens in start)."""
        from .client import StorageClient

        return StorageClient(node)


class _Build:
    """A factory the supervisor can call, naming the actor type it builds (without building one
    to find out: that would need the store before it is open)."""

    def __init__(self, actor_type: type, build: Callable[[], Actor]) -> None:
        self.actor_type = actor_type
        self._build = build

    def __call__(self) -> Actor:
        return self._build()
