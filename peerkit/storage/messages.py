"""The storage actor's message types (local and remote). CIDs travel as their 36 raw bytes."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from ..messages import Message, Request

MAX_WANT = 64  # CIDs per WantBlocks request
CidBytes = Annotated[bytes, msgspec.Meta(min_length=34, max_length=64)]


class BlockData(msgspec.Struct, array_like=True, frozen=True):
    cid: CidBytes
    data: bytes


REPLY_BUDGET = 2 * 1024 * 1024  # bytes of block data per reply, well inside the 4 MiB frame


class BlocksFound(Message, tag="storage.BlocksFound"):
    blocks: list[BlockData]
    #: CIDs the peer does not have
    missing: list[CidBytes] = []
    #: CIDs the peer has but left out to keep the reply within REPLY_BUDGET: ask again
    more: list[CidBytes] = []


class WantBlocks(Request, tag="storage.WantBlocks", reply=BlocksFound):
    """Ask a peer for blocks it has (block exchange). Every block is verified on arrival."""

    cids: Annotated[list[CidBytes], msgspec.Meta(min_length=1, max_length=MAX_WANT)]


class Stored(Message, tag="storage.Stored"):
    cids: list[CidBytes]
    new: int


class PutBlocks(Request, tag="storage.PutBlocks", reply=Stored):
    blocks: list[BlockData]
    #: pin the last block (the DAG's root) under this name in the same step
    pin: str | None = None


class GetBlock(Request, tag="storage.GetBlock", reply=BlocksFound):
    cid: CidBytes


class PinInfo(msgspec.Struct, frozen=True):
    name: str
    root: CidBytes


class PinList(Message, tag="storage.PinList"):
    pins: list[PinInfo]


class PinAdd(Request, tag="storage.PinAdd", reply=PinList):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    root: CidBytes


class PinRm(Request, tag="storage.PinRm"):
    name: str


class PinLs(Request, tag="storage.PinLs", reply=PinList):
    pass


class GCDone(Message, tag="storage.GCDone"):
    removed: int
    freed_bytes: int


class RunGC(Request, tag="storage.RunGC", reply=GCDone):
    pass


class DocumentStored(Message, tag="storage.DocumentStored"):
    root: CidBytes
    quads: int


class PutDocument(Request, tag="storage.PutDocument", reply=DocumentStored):
    """Store a document as a quad set (q = f(d, r)) and index its quads."""

    document: dict[str, Any]
    vocab: str = "schema.org"
    pin: str | None = None


class Document(Message, tag="storage.Document"):
    document: dict[str, Any]


class GetDocument(Request, tag="storage.GetDocument", reply=Document):
    """Rebuild a stored document (d = g(q, r))."""

    root: CidBytes


class QuadRow(msgspec.Struct, array_like=True, frozen=True):
    subject: str
    predicate: str
    object: list[Any]  # ["lit", value, datatype] or ["link", id, type, embedded]
    label: str


class QuadsFound(Message, tag="storage.QuadsFound"):
    quads: list[QuadRow]


class QueryQuads(Request, tag="storage.QueryQuads", reply=QuadsFound):
    """Quads matching a pattern; unset parts match anything."""

    subject: str | None = None
    predicate: str | None = None
    object: list[Any] | None = None
    label: str | None = None


class Fetched(Message, tag="storage.Fetched"):
    blocks: int
    bytes: int
    from_peers: list[str]


class FetchDag(Request, tag="storage.FetchDag", reply=Fetched):
    """Fetch every block under ``root`` that this peer lacks, from ``peers`` (default: all)."""

    root: CidBytes
    peers: list[str] = []
    pin: str | None = None
    max_bytes: Annotated[int, msgspec.Meta(ge=1)] = 1 << 30
    max_depth: Annotated[int, msgspec.Meta(ge=1)] = 1024
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 120.0
