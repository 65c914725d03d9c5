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
    CID (``storage.until_announced``; naming.KeepNow), instead of letting the user race it,
    and learns whether the announcement reached anyone.
    """

    def __init__(self) -> None:
        #: root -> whether its announcement reached a peer (set once tried)
        self._pending: dict[CID, asyncio.Future[bool]] = {}
        #: roots whose last announcement reached no peer (until one does)
        self._unreached: set[CID] = set()

    def queued(self, root: CID) -> None:
        if root not in self._pending:
            self._pending[root] = asyncio.get_running_loop().create_future()

    def tried(self, root: CID, reached: bool) -> None:
        """The root's announcement was tried: stored at ``reached`` peers or not (a failure is
        logged; the next round tries again)."""
        if reached:
            self._unreached.discard(root)
        else:
            self._unreached.add(root)
        outcome = self._pending.pop(root, None)
        if outcome is not None and not outcome.done():
            outcome.set_result(reached)

    def only_pinned(self, pinned: list[CID]) -> None:
        """Forget failures of roots no longer pinned (each full round: nothing accumulates)."""
        self._unreached.intersection_update(pinned)

    async def wait(self, roots: list[CID], timeout: float) -> bool:
        """True once every one of ``roots`` pending now has been announced to some peer;
        False if one was not (no peer took it, now or at its last try) or ``timeout`` passed
        first."""
        if any(root in self._unreached for root in roots):
            return False
        outcomes = [self._pending[root] for root in roots if root in self._pending]
        if not outcomes:
            return True
        done, _ = await asyncio.wait(outcomes, timeout=timeout)
        return len(done) == len(outcomes) and all(o.result() for o in done)


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
            self.announcing.only_pinned(roots)
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
            took = 0
            try:
                took = await routing.provide(root.cid_bytes)
            except PeerkitError as exc:
                self.log.info("content.provide_failed", root=root.encode(), error=str(exc))
            else:
                self.log.debug("content.provided", root=root.encode(), peers=took)
            finally:
                self.announcing.tried(root, reached=took > 0)
