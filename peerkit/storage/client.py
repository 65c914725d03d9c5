"""``node.storage``: the app developer's handle on the storage actors."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blocks import CID, Block, decode, make_block, parse_cid, raw_block
from ..envelopes import Identity
from ..errors import PeerkitError, RequestTimeout
from .car import read_car, write_car
from .errors import BlockNotFound
from .files import read_file_range, size_of
from .messages import (
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
    PinList,
    PinLs,
    PinRm,
    PutBlocks,
    PutDocument,
    QuadsFound,
    QueryQuads,
    RunGC,
)
from .quads import (
    FatLink,
    Literal,
    Quad,
    decode_object,
    encode_object,
    from_quads,
    quads_from_blocks,
    quads_to_blocks,
    to_quads,
)
from .sealed import (
    Envelope,
    IterReader,
    NotAReader,
    Reader,
    SealedError,
    open_content,
    read_envelope,
    readers_of,
    seal_content,
)
from .store import Pin
from .unixfs import ByteSource, Emit, import_file, import_path
from .vocab import vocabulary

#: seconds the connected peers have to deliver a DAG before the DHT's providers are asked
CONNECTED_FIRST = 10.0
#: bytes of blocks a file import hands to the store at a time
BATCH_BYTES = 8 * 1024 * 1024

if TYPE_CHECKING:
    from ..node import Node


class StorageClient:
    def __init__(self, node: Node) -> None:
        from .extension import StorageExtension

        ext = node.extension(StorageExtension)
        assert ext is not None  # built by node.storage, which raises FamilyDisabled without it
        self.node = node
        self.ref = ext.ref
        self._ext = ext

    def has(self, cid: CID | str) -> bool:
        """Whether this peer holds the block (a read: it does not wait on the actor)."""
        return self._ext.store.has(parse_cid(cid))

    def missing(self, root: CID | str) -> list[CID]:
        """The blocks under ``root`` this peer lacks (a read: it does not wait on the actor)."""
        return self._ext.store.missing(parse_cid(root))

    def walk(self, root: CID | str) -> Iterator[Block]:
        """Every block of the DAG under ``root``, depth first, each once (BlockNotFound at
        the first one missing): the order of a CAR, and of a trustless gateway response."""
        return self._ext.store.walk(parse_cid(root))

    def read_block(self, cid: CID | str) -> bytes:
        """The bytes of a block this peer holds (a read: it does not wait on the actor);
        BlockNotFound otherwise. For readers that need many small blocks at once (a log)."""
        return self._ext.store.get(parse_cid(cid)).data

    async def put_blocks(self, blocks: list[Block], *, pin: str | None = None) -> None:
        """Store blocks; with ``pin``, pin the last one (the root) in the same step."""
        for start in range(0, len(blocks), 256):
            chunk = blocks[start : start + 256]
            last = start + 256 >= len(blocks)
            await self.ref.ask(
                PutBlocks(
                    blocks=[BlockData(b.cid.cid_bytes, b.data) for b in chunk],
                    pin=pin if last else None,
                )
            )

    async def put(self, obj: Any) -> CID:
        """Store a DAG-CBOR object (which may link to other CIDs); returns its CID."""
        block = make_block(obj)
        await self.put_blocks([block])
        return block.cid

    async def put_raw(self, data: bytes) -> CID:
        block = raw_block(data)
        await self.put_blocks([block])
        return block.cid

    async def put_file(self, src: ByteSource | Path, *, pin: str | None = None) -> CID:
        """Store a file (or, given a Path, a file or directory tree) as UnixFS: the CID
        ``ipfs add --cid-version=1 --raw-leaves`` gives. Read and written in batches of
        ``BATCH_BYTES`` on a worker thread, so any size fits in bounded memory."""

        def build(emit: Emit) -> CID:
            entry = import_path(src, emit) if isinstance(src, Path) else import_file(src, emit)
            return entry.cid

        return await self._import(build, pin)

    async def put_sealed(
        self,
        src: bytes | ByteSource | Path,
        *,
        owner: Identity,
        readers: list[Reader],
        pin: str | None = None,
        kind: str = "file",
    ) -> CID:
        """Store ``src`` encrypted so that only ``readers`` (and ``owner``) can open it; returns
        the CID of its envelope (storage/sealed.py). Streams, as put_file."""

        def build(emit: Emit) -> CID:
            if isinstance(src, Path):
                with src.open("rb") as f:
                    return seal_content(owner, readers, f, emit, kind).cid
            stream = io.BytesIO(src) if isinstance(src, bytes) else src
            return seal_content(owner, readers, stream, emit, kind).cid

        return await self._import(build, pin)

    async def put_sealed_document(
        self,
        document: dict[str, Any],
        *,
        owner: Identity,
        readers: list[Reader],
        vocab: str = "schema.org",
        pin: str | None = None,
    ) -> CID:
        """A document as quads of the semantic graph (as put_document), sealed for
        ``readers``: the quad set's blocks travel inside the ciphertext as a CAR."""
        vocabulary_ = vocabulary(vocab)
        root, chunks = quads_to_blocks(to_quads(document, vocabulary_), vocabulary_)
        car = io.BytesIO()
        write_car(car, [root.cid], [root, *chunks])
        car.seek(0)
        return await self.put_sealed(car, owner=owner, readers=readers, pin=pin, kind="document")

    async def open_sealed(self, cid: CID | str, identity: Identity) -> bytes:
        """The plaintext of sealed content, for one of its readers (fetched first if some
        of it is elsewhere); NotAReader for anyone else."""
        envelope = await self._envelope(cid)
        return b"".join(open_content(self.read_block, envelope, identity))

    async def open_sealed_document(self, cid: CID | str, identity: Identity) -> dict[str, Any]:
        car = await self.open_sealed(cid, identity)
        roots, blocks = read_car(car)
        held = {b.cid.cid_bytes: b.data for b in blocks}
        if len(roots) != 1 or roots[0].cid_bytes not in held:
            raise SealedError("sealed document does not hold its quad set")
        root = decode(held[roots[0].cid_bytes])
        quads = quads_from_blocks(root, lambda c: held[parse_cid(c).cid_bytes])
        return from_quads(quads, vocabulary(root["vocab"]))

    async def sealed_readers(self, cid: CID | str) -> list[Reader]:
        """Who may open sealed content (the envelope says so in the clear)."""
        return readers_of(await self._envelope(cid))

    async def reseal(
        self,
        cid: CID | str,
        *,
        owner: Identity,
        readers: list[Reader],
        pin: str | None = None,
    ) -> CID:
        """A new version of sealed content, under a new key, for ``readers`` only (and the
        owner): how a reader is removed. Returns the new envelope's CID."""
        envelope = await self._envelope(cid)
        if envelope.owner != owner.id:
            raise NotAReader("only the owner of sealed content can reseal it")
        plain = IterReader(open_content(self.read_block, envelope, owner))
        return await self.put_sealed(
            plain, owner=owner, readers=readers, pin=pin, kind=envelope.kind
        )

    async def _envelope(self, cid: CID | str) -> Envelope:
        cid = parse_cid(cid)
        if not self.has(cid) or self.missing(cid):
            await self.fetch(cid)
        return read_envelope(self.read_block(cid))

    async def _import(self, build: Callable[[Emit], CID], pin: str | None) -> CID:
        """Run ``build`` on a worker thread; the blocks it emits reach the store in batches,
        the root last (pinned with it, in one step)."""
        loop = asyncio.get_running_loop()
        batch: list[Block] = []
        held = 0

        def emit(block: Block) -> None:
            nonlocal held
            batch.append(block)
            held += len(block.data)
            if held >= BATCH_BYTES:
                blocks = batch[:]
                batch.clear()
                held = 0
                # waits for the store: the reader never runs ahead of the writes
                asyncio.run_coroutine_threadsafe(self.put_blocks(blocks), loop).result()

        root = await asyncio.to_thread(build, emit)
        await self.put_blocks(batch, pin=pin)
        return root

    def file_size(self, cid: CID | str) -> int:
        """The byte length of a stored file (UnixFS or peerkit-file), from its root block."""
        return size_of(self.read_block, parse_cid(cid))

    def iter_file(self, cid: CID | str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start``..``end`` of a file this peer holds, a leaf at a time (fetch it
        first if it may be elsewhere)."""
        return read_file_range(self.read_block, parse_cid(cid), start, end)

    async def get_block(self, cid: CID | str) -> Block:
        reply: BlocksFound = await self.ref.ask(GetBlock(cid=parse_cid(cid).cid_bytes))
        b = reply.blocks[0]
        return Block(parse_cid(b.cid), b.data)

    async def get(self, cid: CID | str) -> Any:
        return decode((await self.get_block(cid)).data)

    async def read_file(self, cid: CID | str) -> bytes:
        """A whole file, fetched from other peers if this peer lacks some of it (for small
        files; ``iter_file`` streams)."""
        cid = parse_cid(cid)
        if self._ext.store.missing(cid):
            await self.fetch(cid)
        return b"".join(self.iter_file(cid))

    async def put_document(
        self, document: dict[str, Any], *, vocab: str = "schema.org", pin: str | None = None
    ) -> CID:
        """Store a document as quads of the semantic graph (q = f(d, r)); returns the root."""
        reply: DocumentStored = await self.ref.ask(
            PutDocument(document=document, vocab=vocab, pin=pin)
        )
        return parse_cid(reply.root)

    async def get_document(self, root: CID | str) -> dict[str, Any]:
        """The document a stored quad set describes (d = g(q, r))."""
        reply: Document = await self.ref.ask(GetDocument(root=parse_cid(root).cid_bytes))
        return reply.document

    async def query(
        self,
        subject: str | None = None,
        predicate: str | None = None,
        object: Literal | FatLink | None = None,
        label: str | None = None,
    ) -> list[Quad]:
        """Indexed quads matching the pattern (None matches anything)."""
        reply: QuadsFound = await self.ref.ask(
            QueryQuads(
                subject=subject,
                predicate=predicate,
                label=label,
                object=encode_object(object) if object is not None else None,
            )
        )
        return [Quad(r.subject, r.predicate, decode_object(r.object), r.label) for r in reply.quads]

    async def pin(self, name: str, root: CID | str) -> Pin:
        reply: PinList = await self.ref.ask(PinAdd(name=name, root=parse_cid(root).cid_bytes))
        return Pin(reply.pins[0].name, parse_cid(reply.pins[0].root))

    async def unpin(self, name: str) -> None:
        await self.ref.ask(PinRm(name=name))

    async def pins(self) -> list[Pin]:
        reply: PinList = await self.ref.ask(PinLs())
        return [Pin(p.name, parse_cid(p.root)) for p in reply.pins]

    async def until_announced(self, roots: Iterable[CID | str], timeout: float = 20.0) -> bool:
        """Wait until the DHT announcements of these pinned roots have been made (a pin answers
        first and announces in the background). True once each reached a peer (at once for
        roots not waiting for one); False if one reached none or ``timeout`` passed first (the
        regular re-announcement tries again; one still queued is announced later)."""
        return await self._ext.announcing.wait([parse_cid(r) for r in roots], timeout)

    async def gc(self) -> GCDone:
        result: GCDone = await self.ref.ask(RunGC(), timeout=None)
        return result

    async def fetch(
        self,
        root: CID | str,
        *,
        peers: list[str] | None = None,
        pin: str | None = None,
        timeout: float = 120.0,
        max_bytes: int = 1 << 30,
    ) -> Fetched:
        """Fetch the DAG under ``root`` from peers (all connected peers by default; when none of
        them has it, the peers that provide it in the DHT, dialled first)."""
        cid = parse_cid(root)
        routed = not peers and self.node.has("routing")
        # with the DHT to fall back on, the connected peers get a bounded first try
        first = min(timeout, CONNECTED_FIRST) if routed else timeout
        msg = FetchDag(
            root=cid.cid_bytes, peers=peers or [], pin=pin, timeout=first, max_bytes=max_bytes
        )
        try:
            result: Fetched = await self.node.request(self.node.peer_id, msg, timeout=first + 5)
            return result
        except (BlockNotFound, RequestTimeout):
            if not routed:
                raise
        providers = await self._providers(cid)
        if not providers:
            raise BlockNotFound(
                f"no connected peer has {cid.encode()}, and nobody provides it in the DHT",
                hint="is the peer that keeps it (or its app node) online?",
            )
        msg = FetchDag(
            root=cid.cid_bytes, peers=providers, pin=pin, timeout=timeout, max_bytes=max_bytes
        )
        result = await self.node.request(self.node.peer_id, msg, timeout=timeout + 5)
        return result

    async def _providers(self, cid: CID) -> list[str]:
        """Peers that provide ``cid`` and could be dialled."""
        found = await self.node.client("routing").find_providers(cid.cid_bytes, want=1)
        reached = []
        for info in found:
            try:
                if info.id not in self.node.peers():
                    await self.node.connect(info.addrs or info.id, timeout=5)
                reached.append(info.id)
            except PeerkitError:
                continue
        return reached
