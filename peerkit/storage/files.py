"""Files as DAGs: raw leaves of CHUNK bytes under one dag-cbor root.

    root = {"type": "peerkit/file", "size": N, "chunk": CHUNK, "chunks": [CID, ...]}

Simple and deterministic (the same bytes always give the same root). A root lists up to ~25,000
chunks (6 GiB at 256 KiB) before it would exceed the 1 MiB block limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from ..blocks import CID, Block, make_block, raw_block
from .errors import LimitExceeded, StorageError

CHUNK = 256 * 1024
FILE_TYPE = "peerkit/file"


def file_blocks(src: IO[bytes], chunk: int = CHUNK) -> tuple[Block, list[Block]]:
    """The root block and the leaf blocks of a file."""
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


def iter_file(get_data: Callable[[CID], bytes], root_obj: dict) -> Iterator[bytes]:
    for cid in file_chunks(root_obj):
        yield get_data(cid)
