"""The routing actors: answer other peers' Kademlia requests from the table and the record
store (never waiting on the network), and, on app nodes, run lookups for others."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..actor import Actor, Context, handler
from ..addresses import names_peer
from ..errors import PeerBusy, PeerkitError
from ..ratelimit import Buckets, Rate
from .messages import (
    AddProvider,
    Closer,
    Delegate,
    FindNode,
    Found,
    GetProviders,
    GetRecord,
    PeerInfo,
    Providers,
    PutRecord,
    Record,
    Stored,
)
from .records import RecordRefused, RoutingError
from .table import Contact, K, key_for

if TYPE_CHECKING:
    from .table import RoutingTable

#: how often expired records are dropped (seconds)
EXPIRE_EVERY = 600.0
#: how often the table is refreshed by a lookup of our own id (seconds)
REFRESH_EVERY = 600.0
#: and while it holds fewer than k peers
SETTLE_EVERY = 5.0


def own_addrs(sender: str, addrs: list[str]) -> list[str]:
    """The addresses a peer gave for itself that name it (others' are not its to give)."""
    return [a for a in addrs if names_peer(a, sender)]


def infos(contacts: list[Contact]) -> list[PeerInfo]:
    return [PeerInfo(id=c.peer, addrs=c.addrs[:8]) for c in contacts]


class RoutingActor(Actor):
    mailbox_size = 4096

    async def on_start(self) -> None:
        routing = self.node.routing
        self.ext = routing.ext
        self.table: RoutingTable = routing.table
        self.serves = self.node.config.routing.serve_delegated
        rate = self.node.config.routing.writes_per_peer_per_minute
        self.writes = Buckets(Rate.per_minute(rate), clock=self.node.clock.monotonic)
        self.start_task(self._expire(), name="expire-records")
        self.start_task(self._refresh(), name="refresh-table")
        self.watch_peers(self._peer_connected, at_once=True)
        self.watch_peers(self._peer_settled)

    def _peer_connected(self, peer: str, connected: bool) -> None:
        """A connection we dialled: greet the peer at once with a lookup step (a peer that
        routes answers, and each side keeps the other in its table). At once, not once the
        connection has settled: every lookup starts from this table, and a node that has just
        dialled asks the DHT (provides, resolves) within the same moments; the greeting rides
        the session stream its first request opens."""
        if connected and self.node.dialled(peer) and self.table.get(peer) is None:
            self.start_task(self._greet(peer), name="greet")

    def _peer_settled(self, peer: str, connected: bool) -> None:
        """A connection the peer dialled, once settled: greet it unless its own greeting has
        put it in the table already (the usual case). Greeting at once opened a second
        session stream, the other way, beside the first request (connect + first reply
        ~7 ms more)."""
        if connected and not self.node.dialled(peer) and self.table.get(peer) is None:
            self.start_task(self._greet(peer), name="greet")

    async def _greet(self, peer: str) -> None:
        try:
            await self.node.routing.greet(peer)
        except PeerkitError:  # it does not route (or went away): nothing to keep
            pass

    async def _expire(self) -> None:
        while True:
            await self.node.clock.sleep(EXPIRE_EVERY)
            gone = self.ext.store.expire(self.node.clock.now())
            if gone:
                self.log.info("routing.expired", records=gone)

    async def _refresh(self) -> None:
        """Fill the table once the first peers are connected, then keep it fresh (a lookup of
        our own id finds our neighbours, and makes us known to them)."""
        routing = self.node.routing
        connected = asyncio.Event()
        # once a connection has settled: a lookup at once opened a session stream the other
        # way beside the first request (the dialler's greeting fills the table meanwhile)
        self.watch_peers(lambda peer, up: connected.set() if up else None)
        if not self.node.peers():
            await connected.wait()
        pause = SETTLE_EVERY
        while True:
            try:
                found = await routing.bootstrap()
                self.log.info("routing.refreshed", neighbours=found, known=len(self.table))
            except PeerkitError as exc:
                self.log.info("routing.refresh_failed", error=str(exc))
            # sooner while the table is small (everyone else was just starting too), backing
            # off so that a network starting all at once does not spend itself on refreshes
            if len(self.table) < self.table.k:
                await self.node.clock.sleep(pause)
                pause = min(2 * pause, REFRESH_EVERY)
            else:
                await self.node.clock.sleep(REFRESH_EVERY)

    def _met(self, ctx: Context, addrs: list[str]) -> str:
        """The asker routes too: keep it in the table (with the addresses it gave)."""
        if ctx.sender is None:
            raise RoutingError("routing requests come from peers")
        self.table.seen(ctx.sender, own_addrs(ctx.sender, addrs), self.node.clock.monotonic())
        return ctx.sender

    def _closer(self, key: bytes, asker: str) -> list[PeerInfo]:
        return infos(self.table.closest(key, K, exclude=asker))

    @handler
    async def find_node(self, msg: FindNode, ctx: Context) -> Closer:
        asker = self._met(ctx, msg.addrs)
        return Closer(peers=self._closer(msg.key, asker), delegate=self.serves)

    @handler
    async def get_providers(self, msg: GetProviders, ctx: Context) -> Providers:
        asker = self._met(ctx, msg.addrs)
        held = self.ext.store.get_providers(msg.key, self.node.clock.now())
        return Providers(
            providers=[PeerInfo(id=p.peer, addrs=p.addrs[:8]) for p in held[:K]],
            closer=self._closer(msg.key, asker),
            delegate=self.serves,
        )

    def _charge(self, peer: str) -> None:
        """Records others store here have a budget of their own: what they may keep is
        bounded by the record store (per peer and in all), how fast by this rate. (Not the
        open-write quota: a peer publishing a name would spend it twice, once on the
        announcement and once on the DHT.)"""
        if not self.writes.take(peer):
            wait = self.writes.retry_after(peer)
            raise PeerBusy(f"busy: routing writes from {peer[-8:]} too fast; retry in {wait:.0f}s")

    @handler
    async def add_provider(self, msg: AddProvider, ctx: Context) -> Stored:
        asker = self._met(ctx, msg.addrs)
        self._charge(asker)
        self.ext.store.add_provider(
            msg.key, asker, own_addrs(asker, msg.addrs), self.node.clock.now()
        )
        return Stored()

    @handler
    async def get_record(self, msg: GetRecord, ctx: Context) -> Record:
        asker = self._met(ctx, msg.addrs)
        raw = self.ext.store.get_value(msg.namespace, msg.key, self.node.clock.now())
        closer = self._closer(key_for(msg.namespace, msg.key), asker)
        return Record(record=raw, closer=closer, delegate=self.serves)

    @handler  # validated by its namespace before it is kept; bounded per peer
    async def put_record(self, msg: PutRecord, ctx: Context) -> Stored:
        asker = self._met(ctx, msg.addrs)
        self._charge(asker)
        kept = self.ext.store.put_value(
            msg.namespace, msg.key, msg.record, asker, self.node.clock.now()
        )
        return Stored(kept=kept)


class DelegatedLookups(Actor):
    """On app nodes (``routing.serve_delegated``): run a lookup for a peer that asks. Its own
    mailbox: a lookup takes up to ``lookup_seconds``, and the table's answers must not wait
    behind it; one at a time, which bounds what askers make us spend."""

    mailbox_size = 256

    @handler(open_write=True)  # a lookup costs us: charged to the asker's quota
    async def delegate(self, msg: Delegate, ctx: Context) -> Found:
        if ctx.sender is None:
            raise RoutingError("delegated lookups are for other peers")
        routing = self.node.routing
        if msg.kind == "providers":
            try:
                cid = bytes.fromhex(msg.key)
            except ValueError:
                raise RecordRefused("a providers lookup names a CID's bytes in hex") from None
            found = await routing.find_providers(cid, delegated=False)
            return Found(providers=[PeerInfo(id=p.id, addrs=p.addrs[:8]) for p in found[:K]])
        if msg.kind == "record":
            raw = await routing.get_record(msg.namespace, msg.key, delegated=False)
            return Found(record=raw)
        addrs = await routing.find_peer(msg.key, delegated=False)
        return Found(peer=PeerInfo(id=msg.key, addrs=addrs[:8]) if addrs else None)
