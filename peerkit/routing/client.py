"""``node.routing``: lookups over the DHT, run in the caller's task (the routing actor's
mailbox never waits on the network).

Each lookup asks a delegate first when one is connected (an app node that runs lookups for
others: one round trip), then walks the DHT (``lookup.lookup``), dialling the peers it learns
of. What it learns of peers that answer goes into the routing table.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from ..addresses import names_peer
from ..errors import PeerkitError
from .lookup import Answer, Lookup, lookup
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
from .table import Contact, key_for

if TYPE_CHECKING:
    from ..node import Node
    from .extension import RoutingExtension

#: one request of a lookup (dial included)
QUERY_TIMEOUT = 3.0
#: records of a name gathered before the best is chosen
RECORDS_WANTED = 3


def contacts(infos: list[PeerInfo]) -> list[Contact]:
    """Peers named in an answer, with only the addresses that name them."""
    return [Contact(i.id, [a for a in i.addrs if names_peer(a, i.id)]) for i in infos]


class RoutingClient:
    def __init__(self, node: Node) -> None:
        from .extension import RoutingExtension

        ext = node.extension(RoutingExtension)
        assert ext is not None  # built by node.routing, which raises FamilyDisabled without it
        self.node = node
        self.ext: RoutingExtension = ext
        self.table = ext.table(node)
        self.store = ext.store
        self.deadline = node.config.routing.lookup_seconds

    # --- what others store here -----------------------------------------------------------

    # --- lookups --------------------------------------------------------------------------

    async def find_peer(self, peer: str, *, delegated: bool = True) -> list[str]:
        """Addresses of ``peer`` (empty if nobody knows it)."""
        known = self.table.get(peer)
        if known is not None and known.addrs:
            return list(known.addrs)
        if delegated:
            found = await self._delegate(Delegate(kind="peer", key=peer))
            if found is not None and found.peer is not None and found.peer.addrs:
                return [a for a in found.peer.addrs if names_peer(a, peer)]

        msg = FindNode(key=key_for("peer", peer), addrs=self._my_addrs())

        async def ask(contact: Contact) -> Answer:
            reply: Closer = await self._ask(contact, msg)
            closer = contacts(reply.peers)
            return Answer(closer, [c for c in closer if c.peer == peer and c.addrs])

        result = await self._lookup(key_for("peer", peer), ask, want=1)
        return list(result.found[0].addrs) if result.found else []

    async def provide(self, cid: bytes) -> int:
        """Tell the peers closest to ``cid`` that this peer has it; how many took it."""
        key = key_for("cid", cid)
        return await self._store_at(key, AddProvider(key=key, addrs=self._my_addrs()))

    async def find_providers(
        self, cid: bytes, *, want: int = 1, delegated: bool = True
    ) -> list[PeerInfo]:
        """Peers that say they have ``cid`` (up to ``want`` once found; this peer excluded)."""
        key = key_for("cid", cid)
        here = [
            PeerInfo(id=p.peer, addrs=p.addrs)
            for p in self.store.get_providers(key, self.node.clock.now())
            if p.peer != self.node.peer_id
        ]
        if len(here) >= want:
            return here
        if delegated:
            found = await self._delegate(Delegate(kind="providers", key=cid.hex()))
            if found is not None and found.providers:
                return list(found.providers)

        msg = GetProviders(key=key, addrs=self._my_addrs())

        async def ask(contact: Contact) -> Answer:
            reply: Providers = await self._ask(contact, msg)
            return Answer(contacts(reply.closer), list(reply.providers))

        result = await self._lookup(key, ask, want=want)
        seen: dict[str, PeerInfo] = {p.id: p for p in here}
        for info in result.found:
            if info.id != self.node.peer_id:
                seen.setdefault(info.id, info)
        return list(seen.values())

    async def put_record(self, namespace: str, key: str, raw: bytes) -> int:
        """Validate, keep here and store at the peers closest to ``key``; how many took it."""
        now = self.node.clock.now()
        self.store.put_value(namespace, key, raw, self.node.peer_id, now)
        self.ext.counts["record_puts"] += 1
        msg = PutRecord(namespace=namespace, key=key, record=raw, addrs=self._my_addrs())
        return await self._store_at(key_for(namespace, key), msg)

    async def get_record(self, namespace: str, key: str, *, delegated: bool = True) -> bytes | None:
        """The best valid record of ``key`` found (kept here too), or None."""
        kind = self.store.namespaces.get(namespace)
        if kind is None:
            raise RecordRefused(f"no validator for records of kind {namespace!r}")
        if delegated:
            found = await self._delegate(Delegate(kind="record", key=key, namespace=namespace))
            if found is not None and found.record is not None:
                self._keep(namespace, key, found.record)
        held = self.store.get_value(namespace, key, self.node.clock.now())

        msg = GetRecord(namespace=namespace, key=key, addrs=self._my_addrs())

        async def ask(contact: Contact) -> Answer:
            reply: Record = await self._ask(contact, msg)
            return Answer(contacts(reply.closer), [reply.record] if reply.record else [])

        if held is None:
            result = await self._lookup(key_for(namespace, key), ask, want=RECORDS_WANTED)
            for raw in result.found:
                self._keep(namespace, key, raw)  # the best valid one stays
            held = self.store.get_value(namespace, key, self.node.clock.now())
        return held

    async def closest_peers(self, key: bytes) -> list[Contact]:
        """The peers closest to ``key`` that answer (a FindNode lookup)."""

        msg = FindNode(key=key, addrs=self._my_addrs())

        async def ask(contact: Contact) -> Answer:
            reply: Closer = await self._ask(contact, msg)
            return Answer(contacts(reply.peers))

        return (await self._lookup(key, ask)).closest

    async def _store_at(self, key: bytes, msg: AddProvider | PutRecord) -> int:
        """Send ``msg`` to the peers closest to ``key``; how many kept it."""
        closest = await self.closest_peers(key)
        replies = await asyncio.gather(
            *(self._ask(c, msg) for c in closest), return_exceptions=True
        )
        return sum(isinstance(r, Stored) for r in replies)

    async def greet(self, peer: str) -> None:
        """One lookup step with a newly connected peer: what it answers fills our table, and
        asking makes us known to it."""
        me = FindNode(key=key_for("peer", self.node.peer_id), addrs=self._my_addrs())
        reply: Closer = await self._ask(Contact(peer, []), me)
        for contact in contacts(reply.peers):
            if contact.addrs and self.table.get(contact.peer) is None:
                self.node.learn_addrs(contact.peer, contact.addrs)

    async def bootstrap(self) -> int:
        """Fill the table: look ourselves up, starting from the connected peers."""
        return len(await self.closest_peers(key_for("peer", self.node.peer_id)))

    # --- the parts ------------------------------------------------------------------------

    async def _lookup(self, key: bytes, ask: Any, *, want: int = 0) -> Lookup:
        began = self.node.clock.monotonic()
        seeds = self._seeds(key)
        result = await lookup(
            key, seeds, ask, me=self.node.peer_id, want=want, deadline=self.deadline
        )
        self.ext.counts["lookups"] += 1
        self.ext.counts["lookups_timed_out"] += result.timed_out
        self.node.log.debug(
            "routing.lookup",
            seeds=len(seeds),
            asked=result.queried,
            failed=result.failed,
            hops=result.hops,
            found=len(result.found),
            timed_out=result.timed_out,
            ms=round((self.node.clock.monotonic() - began) * 1000),
        )
        return result

    def _seeds(self, key: bytes) -> list[Contact]:
        """The closest known peers, and the connected ones the table does not hold yet (a
        peer that just started knows nobody else)."""
        seeds = self.table.closest(key)
        held = {c.peer for c in seeds}
        for peer in self.node.peers():
            if peer not in held and self.table.get(peer) is None:
                seeds.append(Contact(peer, []))
        return seeds

    async def _ask(self, contact: Contact, msg: Any) -> Any:
        """One request of a lookup: dial if needed, ask, and keep what it says about the
        peer in the table."""
        node = self.node
        monotonic = node.clock.monotonic
        try:
            async with asyncio.timeout(QUERY_TIMEOUT):
                if contact.peer not in node.peers():
                    addrs = contact.addrs or node.known_addrs.get(contact.peer)
                    if not addrs:  # (dialling by id would start a lookup inside this one)
                        raise RoutingError(f"no address known for {contact.peer[-8:]}")
                    await node.connect(addrs, timeout=QUERY_TIMEOUT)
                reply = await node.request(contact.peer, msg, timeout=QUERY_TIMEOUT)
        except PeerkitError:
            self.table.failed(contact.peer)
            raise
        except TimeoutError:
            self.table.failed(contact.peer)
            raise RoutingError(
                f"{contact.peer[-8:]} did not answer {type(msg).__name__} in {QUERY_TIMEOUT}s"
            ) from None
        self.table.seen(contact.peer, contact.addrs, monotonic())
        self.ext.counts["requests"] += 1
        self.ext.counts["reply_bytes"] += len(msgspec.msgpack.encode(reply))
        if getattr(reply, "delegate", False):
            self.ext.delegates.add(contact.peer)
        return reply

    async def _delegate(self, msg: Delegate) -> Found | None:
        """Ask a connected delegate (an app node) to run the lookup; None if none could."""
        for peer in [p for p in self.node.peers() if p in self.ext.delegates]:
            try:
                found: Found = await self.node.request(peer, msg, timeout=self.deadline + 1)
                self.ext.counts["delegated"] += 1
                return found
            except PeerkitError:
                continue
        return None

    def _keep(self, namespace: str, key: str, raw: bytes) -> None:
        try:
            self.store.put_value(namespace, key, raw, self.node.peer_id, self.node.clock.now())
        except PeerkitError:  # not valid: another peer's bad record, dropped
            pass

    def _my_addrs(self) -> list[str]:
        return self.node.addrs()[:8]
