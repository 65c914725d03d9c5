"""Files: written as UnixFS (the CIDs ``ipfs add`` gives, see unixfs.py), read as UnixFS or as
the peerkit-file DAGs earlier versions wrote:

    root = {"type": "peerkit/file", "size": N, "chunk": CHUNK, "chunks": [CID, ...]}

Everything here streams: blocks go out to a callback as they are made, and bytes are read a
leaf at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from ..blocks import CID, DAG_CBOR, Block, decode, make_block, parse_cid, raw_block
from .errors import LimitExceeded, StorageError
from .unixfs import CHUNK, GetData, NotUnixFS, file_size, read_node, read_range

FILE_TYPE = "peerkit/file"


def is_legacy_file(cid: CID, data: bytes) -> bool:
    if cid.cid_bytes[1] != DAG_CBOR:
        return False
    obj = decode(data)
    return isinstance(obj, dict) and obj.get("type") == FILE_TYPE


def _legacy_root(data: bytes) -> dict:
    """A peerkit-file root, checked (it may have come from another peer)."""
    root = decode(data)
    size, chunk, chunks = root.get("size"), root.get("chunk", CHUNK), root.get("chunks")
    if (
        not isinstance(size, int)
        or not isinstance(chunk, int)
        or chunk <= 0
        or not isinstance(chunks, list)
        or not all(isinstance(c, CID) for c in chunks)
    ):
        raise NotUnixFS("a peerkit file root is malformed")
    return root


def size_of(get_data: GetData, cid: CID) -> int:
    """The byte length of the file at ``cid`` (read from its root block only)."""
    data = get_data(cid)
    if is_legacy_file(cid, data):
        return int(_legacy_root(data)["size"])
    return file_size(read_node(cid, data))


def read_file_range(
    get_data: GetData, cid: CID, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Bytes ``start``..``end`` of the file at ``cid``, a leaf at a time."""
    data = get_data(cid)
    if is_legacy_file(cid, data):
        yield from _legacy_range(get_data, _legacy_root(data), start, end)
    else:
        yield from read_range(get_data, cid, start, end)


def _legacy_range(get_data: GetData, root: dict, start: int, end: int | None) -> Iterator[bytes]:
    chunk = int(root.get("chunk", CHUNK))
    offset = 0
    for cid in file_chunks(root):
        lo, hi = offset, offset + chunk
        offset = hi
        if hi <= start or (end is not None and lo >= end):
            continue
        piece = get_data(parse_cid(cid))[max(start - lo, 0) : None if end is None else end - lo]
        if piece:
            yield piece


# --- the peerkit-file format (read, and written only to test that old DAGs still read) ------


def legacy_file_blocks(src: IO[bytes], chunk: int = CHUNK) -> tuple[Block, list[Block]]:
    """The root block and the leaf blocks of a file in the old peerkit-file format."""
    leaves: list[Block] = []
    size = 0
    while data := src.read(chunk):
        leaves.append(raw_block(data))
        size += len(data)
    root = make_block(
        {"type": FILE_TYPE, "size": size, "chunk": chunk, "chunks": [b.cid for b in leaves]}
    )
    if len(root.data) > 1024 * 1024:
        raise LimitExceeded("file too large for a single-level file DAG")
    return root, leaves


def file_chunks(root: dict) -> list[CID]:
    if not isinstance(root, dict) or root.get("type") != FILE_TYPE:
        raise StorageError(
            "that CID is not a peerkit file root", hint="use `peerkit dag export` for other DAGs"
        )
    return list(root["chunks"])


__all__ = [
    "FILE_TYPE",
    "file_chunks",
    "is_legacy_file",
    "legacy_file_blocks",
    "read_file_range",
    "size_of",
]
