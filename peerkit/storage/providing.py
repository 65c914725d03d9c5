"""Announcing what this peer keeps: every pinned root is provided in the DHT (routing), when
pinned and again every 12 hours (provider records last 24 h), so others can find it by CID
without being connected to us."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..actor import Actor
from ..blocks import CID
from ..errors import PeerkitError
from .store import BlockStore

if TYPE_CHECKING:
    from ..routing.client import RoutingClient

#: pins that are a family's own state (name logs, delegations, DCS logs and mail, the keeper's
#: list): found by name or document id, never by CID. Not announced: an append moves the pin,
#: and announcing every move cost a DHT lookup per write (50 name publishes: 80 lookups).
#: ``me/`` (the Me DAG) and ``kept/`` (what an app node keeps for users) are content: announced.
PRIVATE_PINS = ("naming/", "auth/", "dcs/", "dcs-mail/", "dcs-kept/", "keeper/")


def announced(pin: str) -> bool:
    """Whether a pin's root is announced in the DHT."""
    return not pin.startswith(PRIVATE_PINS)


#: how often every pinned root is announced again (provider records last 24 h)
REPROVIDE_EVERY = 12 * 3600.0


class Announcing:
    """Roots pinned and queued for the DHT whose announcement has not been tried yet.

    A pin answers at once and its announcement follows in the background; a caller about to
    tell a user "it is kept, log in anywhere" waits here until others can find the root by
    CID (``storage.until_announced``; naming.KeepNow), instead of letting the user race it.
    """

    def __init__(self) -> None:
        self._pending: dict[CID, asyncio.Event] = {}

    def queued(self, root: CID) -> None:
        self._pending.setdefault(root, asyncio.Event())

    def tried(self, root: CID) -> None:
        """The root's announcement was tried (a failure is logged; a later round retries)."""
        event = self._pending.pop(root, None)
        if event is not None:
            event.set()

    async def wait(self, roots: list[CID], timeout: float) -> bool:
        """True once every one of ``roots`` pending now has been tried; False at the timeout."""
        events = [self._pending[root] for root in roots if root in self._pending]
        try:
            async with asyncio.timeout(timeout):
                for event in events:
                    await event.wait()
        except TimeoutError:
            return False
        return True


class ContentProvider(Actor):
    def __init__(
        self, store: BlockStore, pinned: asyncio.Queue[CID], announcing: Announcing
    ) -> None:
        self.store = store
        self.pinned = pinned
        self.announcing = announcing

    async def on_start(self) -> None:
        self.start_task(self._announce(), name="provide")

    async def _announce(self) -> None:
        connected = asyncio.Event()
        unwatch = self.node.watch_peers(
            lambda peer, up: connected.set() if up else None, at_once=True
        )
        try:
            if not self.node.peers():
                await connected.wait()
        finally:
            unwatch()
        routing = self.node.routing
        while True:
            roots = list(dict.fromkeys(p.root for p in self.store.pins() if announced(p.name)))
            await self._provide(routing, roots)
            try:
                async with asyncio.timeout(REPROVIDE_EVERY):
                    while True:
                        root = await self.pinned.get()
                        await self._provide(routing, [root])
            except TimeoutError:
                continue  # time to announce everything again

    async def _provide(self, routing: RoutingClient, roots: list[CID]) -> None:
        for root in roots:
            try:
                took = await routing.provide(root.cid_bytes)
            except PeerkitError as exc:
                self.log.info("content.provide_failed", root=root.encode(), error=str(exc))
                continue
            finally:
                self.announcing.tried(root)
            self.log.debug("content.provided", root=root.encode(), peers=took)
