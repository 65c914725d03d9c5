"""Feeds: how an actor tells local watchers that something changed, without sharing its state.

The actor that owns some state is the only one that calls :meth:`Feed.put`; clients hand their
callers :meth:`Feed.watch`, an async iterator over the values put for one key from then on. A
watcher's queue is bounded and keeps the newest values (a watcher that reads slowly skips
intermediate states, never blocks the actor, never grows memory): what is watched is "the latest
state", as for a document's text or a name's head record.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: values kept for a watcher that has not read them yet (the oldest are dropped first)
WATCH_BACKLOG = 256


class Feed(Generic[K, V]):
    def __init__(self, backlog: int = WATCH_BACKLOG) -> None:
        self._backlog = backlog
        self._queues: dict[K, set[asyncio.Queue[V]]] = defaultdict(set)

    def put(self, key: K, value: V) -> None:
        """Hand ``value`` to every watcher of ``key`` (never waits; nothing when none)."""
        for queue in self._queues.get(key, ()):
            if queue.full():
                queue.get_nowait()  # drop the oldest: the newest state is what matters
            queue.put_nowait(value)

    def watching(self, key: K) -> int:
        return len(self._queues.get(key, ()))

    @contextmanager
    def subscription(self, key: K) -> Iterator[asyncio.Queue[V]]:
        """A queue receiving the values put for ``key`` while the ``with`` block runs."""
        queue: asyncio.Queue[V] = asyncio.Queue(self._backlog)
        self._queues[key].add(queue)
        try:
            yield queue
        finally:
            watchers = self._queues.get(key)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self._queues[key]

    async def watch(self, key: K) -> AsyncIterator[V]:
        """Every value put for ``key`` from now on, until the caller stops iterating."""
        with self.subscription(key) as queue:
            while True:
                yield await queue.get()
