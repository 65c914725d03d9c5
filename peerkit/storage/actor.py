"""The storage actors: ``StorageActor`` owns the block store; ``Fetcher`` fetches DAGs.

Fetching lives in its own actor so the storage actor never waits on the network: two peers
fetching from each other at once would otherwise each block the actor the other needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..actor import Actor, ActorRef, Context, Later, handler
from ..auth.guard import Requires
from ..blocks import CID, DAG_CBOR, Block, decode, links, parse_cid, verify
from ..errors import PeerkitError, RequestTimeout
from .errors import BlockNotFound, BlockTooLarge, StorageError
from .exchange import FetchLimits, fetch_dag
from .gc import Collection
from .messages import (
    REPLY_BUDGET,
    BlockData,
    BlocksFound,
    Document,
    DocumentStored,
    FetchDag,
    Fetched,
    GCDone,
    GetBlock,
    GetDocument,
    PinAdd,
    PinInfo,
    PinList,
    PinLs,
    PinRm,
    PutBlocks,
    PutDocument,
    QuadRow,
    QuadsFound,
    QueryQuads,
    RunGC,
    Stored,
    WantBlocks,
)
from .quads import (
    QUADS_TYPE,
    QuadIndex,
    decode_object,
    encode_object,
    from_quads,
    quads_from_blocks,
    quads_to_blocks,
    to_quads,
)
from .store import BlockStore, MemoryBlockStore, SQLiteBlockStore
from .vocab import vocabulary

MAX_BLOCK = 1024 * 1024


def open_store(backend: str, path: str | Path | None) -> BlockStore:
    if backend == "memory":
        return MemoryBlockStore()
    if path is None:
        raise StorageError("the sqlite block store needs a path")
    return SQLiteBlockStore(path)


def _cid_resource(msg: Any) -> str:
    """The resource a remote pin or fetch request acts on (its root travels as CID bytes)."""
    return f"cid:{parse_cid(msg.root).encode()}"


class StorageActor(Actor):
    """Blocks, pins and GC for this peer; serves ``WantBlocks`` to other peers.

    The store is handed in by the factory, so it survives restarts of the actor.
    """

    mailbox_size = 4096

    def __init__(
        self,
        store: BlockStore,
        *,
        gc_grace: float = 60.0,
        gc_every: float = 0.0,
        clock: Callable[[], float] = time.time,
        on_pinned: Callable[[str, CID], None] = lambda name, root: None,
    ) -> None:
        self.store = store
        #: told each pin made here, by name and root (the content provider announces it)
        self.on_pinned = on_pinned
        self.gc_grace = gc_grace
        self.gc_every = gc_every
        self.clock = clock
        self.index = QuadIndex()
        #: the collection running now, and the one asked for since (it starts when this ends)
        self._collecting: Later | None = None
        self._next_collection: Later | None = None

    async def on_start(self) -> None:
        # The quad index is derived state: rebuilt from the pinned quad sets at every start
        # (read on the store's I/O thread: a big store takes a while).
        for quads in await self.store.run(_pinned_quad_sets, self.store):
            self.index.add(quads)
        if self.gc_every > 0 and self.ref is not None:
            self.start_task(self._collect_regularly(self.ref), name="gc")

    async def _collect_regularly(self, ref: ActorRef) -> None:
        """Ask ourselves for a GC now and then: through the mailbox, so it is serialised with
        writes and pins like any other."""
        while True:
            await self.node.clock.sleep(self.gc_every)
            await ref.ask(RunGC(), timeout=None)

    @handler(requires=Requires("storage/put", on="storage:documents", trusted=True))
    async def put_document(self, msg: PutDocument) -> DocumentStored:
        vocab = vocabulary(msg.vocab)
        quads = to_quads(msg.document, vocab)
        root, chunks = quads_to_blocks(quads, vocab)
        await self.store.run(self.store.put_many, [*chunks, root], self.clock())
        if msg.pin is not None:
            await self.store.run(self.store.add_pin, msg.pin, root.cid)
            self.on_pinned(msg.pin, root.cid)
        self.index.add(quads)
        return DocumentStored(root=root.cid.cid_bytes, quads=len(quads))

    @handler
    async def get_document(self, msg: GetDocument) -> Document:
        root = decode(self.store.get(parse_cid(msg.root)).data)
        quads = await self.store.run(quads_from_blocks, root, lambda c: self.store.get(c).data)
        return Document(document=from_quads(quads, vocabulary(root["vocab"])))

    @handler
    async def query(self, msg: QueryQuads) -> QuadsFound:
        obj = decode_object(msg.object) if msg.object is not None else None
        found = self.index.match(msg.subject, msg.predicate, obj, msg.label)
        return QuadsFound(
            quads=[QuadRow(q.subject, q.predicate, encode_object(q.object), q.label) for q in found]
        )

    @handler(requires=Requires("storage/put", on="storage:blocks", trusted=True))
    async def put_blocks(self, msg: PutBlocks, ctx: Context) -> Stored:
        blocks = []
        for b in msg.blocks:
            if len(b.data) > MAX_BLOCK:
                raise BlockTooLarge(f"block of {len(b.data)} bytes exceeds {MAX_BLOCK}")
            # Local callers built their blocks with make_block; remote ones are verified.
            blocks.append(
                verify(parse_cid(b.cid), b.data) if ctx.sender else Block(parse_cid(b.cid), b.data)
            )
        new = await self.store.run(self.store.put_many, blocks, self.clock())
        if msg.pin is not None and blocks:
            # put + pin in one step: no GC can run in between (it would run in this mailbox)
            await self.store.run(self.store.add_pin, msg.pin, blocks[-1].cid)
            self.on_pinned(msg.pin, blocks[-1].cid)
        return Stored(cids=[b.cid.cid_bytes for b in blocks], new=new)

    @handler
    async def get_block(self, msg: GetBlock) -> BlocksFound:
        block = self.store.get(parse_cid(msg.cid))
        return BlocksFound(blocks=[BlockData(block.cid.cid_bytes, block.data)])

    @handler
    async def want_blocks(self, msg: WantBlocks) -> BlocksFound:
        found: list[BlockData] = []
        missing: list[bytes] = []
        more: list[bytes] = []
        budget = REPLY_BUDGET
        for raw in msg.cids:
            cid = parse_cid(raw)
            if budget <= 0:
                (more if self.store.has(cid) else missing).append(raw)
                continue
            data = self.store.get_data(cid)
            if data is None:
                missing.append(raw)
            else:
                found.append(BlockData(raw, data))
                budget -= len(data)
        return BlocksFound(blocks=found, missing=missing, more=more)

    @handler(requires=Requires("storage/pin", on=_cid_resource, trusted=True))
    async def pin_add(self, msg: PinAdd) -> PinList:
        pin = await self.store.run(self.store.add_pin, msg.name, parse_cid(msg.root))
        self.log.info("pin.added", name=pin.name, root=pin.root.encode())
        self.on_pinned(pin.name, pin.root)
        return PinList(pins=[PinInfo(pin.name, pin.root.cid_bytes)])

    @handler(requires=Requires("storage/unpin", on="pin:{name}", trusted=True))
    async def pin_rm(self, msg: PinRm) -> None:
        await self.store.run(self.store.remove_pin, msg.name)

    @handler
    async def pin_ls(self, msg: PinLs) -> PinList:
        return PinList(pins=[PinInfo(p.name, p.root.cid_bytes) for p in self.store.pins()])

    @handler(requires=Requires("storage/gc", on="storage:blocks", trusted=True))
    async def gc(self, msg: RunGC) -> Later:
        """Collect garbage beside the mailbox, a step at a time (see gc.py): puts and pins go
        on meanwhile. Asked while one runs, the answer is the next one's, which starts when the
        running one ends: what was unpinned before asking is then collected."""
        if self._next_collection is None:
            self._next_collection = self.answer_later(self._collect_after(self._collecting))
        return self._next_collection

    async def _collect_after(self, running: Later | None) -> GCDone:
        if running is not None:
            await asyncio.wait([running.task])  # its outcome is its own askers'
        self._collecting, self._next_collection = self._next_collection, None
        collection = await self.store.run(Collection, self.store, self.clock() - self.gc_grace)
        steps = 1
        while not await self.store.run(collection.step):
            steps += 1
            await asyncio.sleep(0)  # the memory store steps on the loop: let it run between
        result = collection.result()
        self.log.info("gc.done", removed=result.removed, freed=result.freed_bytes, steps=steps)
        return GCDone(removed=result.removed, freed_bytes=result.freed_bytes)


def _pinned_quad_sets(store: BlockStore) -> list[list[Any]]:
    """The quads of every pinned quad set (what the storage actor indexes at start)."""
    out = []
    for pin in store.pins():
        root = decode(store.get(pin.root).data) if pin.root.cid_bytes[1] == DAG_CBOR else None
        if isinstance(root, dict) and root.get("type") == QUADS_TYPE:
            out.append(quads_from_blocks(root, lambda c: store.get(c).data))
    return out


#: how long one peer may take to answer a want (then the next peer is asked)
WANT_TIMEOUT = 5.0
#: fetches that run at once; more wait in the mailbox (and its backpressure) for a turn
MAX_FETCHES = 8


class Fetcher(Actor):
    """Fetches DAGs from other peers into the local store (see exchange.fetch_dag), several at
    once: a fetch waits on the network for up to its timeout (a DAG nobody has: minutes), and
    one at a time, every fetch queued behind it waited too, and timed out."""

    mailbox_size = 64

    def __init__(self, store: BlockStore) -> None:
        # Reads go straight to the store (the loop is single-threaded); writes go through the
        # storage actor, so they are serialised with pins and GC.
        self.store = store
        self.turns = asyncio.Semaphore(MAX_FETCHES)

    @handler(requires=Requires("storage/pin", on=_cid_resource, trusted=True))
    async def fetch(self, msg: FetchDag) -> Later:
        await self.turns.acquire()  # holds the mailbox only while MAX_FETCHES run
        return self.answer_later(self._fetch_in_turn(msg))

    async def _fetch_in_turn(self, msg: FetchDag) -> Fetched:
        try:
            return await self._fetch(msg)
        finally:
            self.turns.release()

    async def _fetch(self, msg: FetchDag) -> Fetched:
        root = parse_cid(msg.root)
        peers = msg.peers or self.node.peers()
        # Asking every connected peer, one that does not answer costs seconds, not the whole
        # fetch; peers named by the caller (the DHT's providers) are all there is: full time.
        per_want = msg.timeout if msg.peers else min(msg.timeout, WANT_TIMEOUT)
        storage_ref = self.node.storage.ref  # the Fetcher only runs beside the storage actor

        async def want(peer: str, cids: list[CID]) -> list[tuple[bytes, bytes]]:
            got: list[tuple[bytes, bytes]] = []
            asking = [c.cid_bytes for c in cids]
            while asking:
                reply: BlocksFound = await self.node.request(
                    peer, WantBlocks(cids=asking), timeout=per_want
                )
                got += [(b.cid, b.data) for b in reply.blocks]
                if not reply.blocks:
                    break  # a peer that sends nothing while promising more is not progressing
                asking = [c for c in reply.more if c in set(asking)]
            return got

        async def have(cids: list[CID]) -> list[bool]:
            return [self.store.has(c) for c in cids]

        async def put(blocks: list[Block]) -> None:
            await storage_ref.ask(
                PutBlocks(blocks=[BlockData(b.cid.cid_bytes, b.data) for b in blocks]),
                timeout=msg.timeout,
            )

        async def local_links(cids: list[CID]) -> list[CID]:
            return [link for c in cids for link in links(self.store.get(c))]

        limits = FetchLimits(max_block=MAX_BLOCK, max_bytes=msg.max_bytes, max_depth=msg.max_depth)
        try:
            report = await asyncio.wait_for(
                fetch_dag(
                    root,
                    peers,
                    want=want,
                    have=have,
                    put=put,
                    local_links=local_links,
                    limits=limits,
                ),
                msg.timeout,
            )
        except TimeoutError:
            raise RequestTimeout(
                f"fetching {root.encode()} took longer than {msg.timeout}s"
            ) from None
        except PeerkitError:
            raise
        if msg.pin:
            await storage_ref.ask(PinAdd(name=msg.pin, root=msg.root), timeout=msg.timeout)
        self.log.info("dag.fetched", root=root.encode(), blocks=report.blocks, bytes=report.bytes)
        return Fetched(blocks=report.blocks, bytes=report.bytes, from_peers=sorted(report.peers))


__all__ = ["BlockNotFound", "Fetcher", "StorageActor", "open_store"]
