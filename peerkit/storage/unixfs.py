"""UnixFS v1: files and directories as IPFS writes them, in bounded memory.

A file is cut into 256 KiB raw leaves; a balanced tree of DAG-PB nodes of up to 174 links
each joins them (a file of one chunk is that raw leaf alone). A directory is one DAG-PB node
whose links, sorted by name, point at its entries. These are the defaults of ``ipfs add
--cid-version=1 --raw-leaves`` and of ``ipfs-unixfs-importer``: the same bytes give the same
CIDs here as there (tests/interop checks it).

The importer hands each block to ``emit`` as soon as it is made (the caller writes them in
batches) and keeps one pending list of links per tree level: memory stays bounded for any
file size. The reader walks a file with the node's ``blocksizes``, so a byte range reads only
the leaves it covers.

Not done: HAMT-sharded directories (IPFS shards a directory whose links pass 256 KiB of names
and CIDs: refused here with that reason), symlinks, mode and mtime (read, never written).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from ..blocks import CID, DAG_PB, RAW, Block, cid_codec, cid_for, parse_cid, raw_block
from ..dagpb import DagPbError, PBLink, PBNode, decode_node, encode_node
from ..errors import MalformedMessage, UsageError
from ..wire import decode_uvarint, encode_uvarint
from .errors import LimitExceeded, StorageError

CHUNK = 256 * 1024
MAX_LINKS = 174
#: above this many bytes of names and CIDs, IPFS makes a directory a HAMT shard
SHARD_THRESHOLD = 262_144

# UnixFS Data.Type
RAW_TYPE, DIRECTORY, FILE, METADATA, SYMLINK, HAMT_SHARD = range(6)
TYPE_NAMES = {
    RAW_TYPE: "raw",
    DIRECTORY: "directory",
    FILE: "file",
    METADATA: "metadata",
    SYMLINK: "symlink",
    HAMT_SHARD: "hamt-sharded-directory",
}

Emit = Callable[[Block], None]


class ByteSource(Protocol):
    """Anything with ``read(n)``: a file, a socket file, a pipe, a generator's reader."""

    def read(self, size: int, /) -> bytes | None: ...


GetData = Callable[[CID], bytes]


class NotUnixFS(StorageError):
    """A block that is not the UnixFS node it was read as (or not one we can read)."""

    code = "not_unixfs"


# --- the UnixFS Data message (a protobuf inside a DAG-PB node's Data) ----------------------


@dataclass
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = field(default_factory=list)
    hash_type: int | None = None
    fanout: int | None = None
    mode: int | None = None
    mtime: bytes | None = None  # the UnixTime message, kept as read

    def encode(self) -> bytes:
        out = bytearray(b"\x08" + encode_uvarint(self.type))
        if self.data is not None:
            out += b"\x12" + encode_uvarint(len(self.data)) + self.data
        if self.filesize is not None:
            out += b"\x18" + encode_uvarint(self.filesize)
        for size in self.blocksizes:
            out += b"\x20" + encode_uvarint(size)
        if self.hash_type is not None:
            out += b"\x28" + encode_uvarint(self.hash_type)
        if self.fanout is not None:
            out += b"\x30" + encode_uvarint(self.fanout)
        if self.mode is not None:
            out += b"\x38" + encode_uvarint(self.mode)
        if self.mtime is not None:
            out += b"\x42" + encode_uvarint(len(self.mtime)) + self.mtime
        return bytes(out)

    @property
    def size(self) -> int:
        """The bytes of file content under this node."""
        if self.filesize is not None:
            return self.filesize
        return len(self.data or b"") + sum(self.blocksizes)


_VARINT_FIELDS = {1: "type", 3: "filesize", 5: "hash_type", 6: "fanout", 7: "mode"}
_BYTES_FIELDS = {2: "data", 8: "mtime"}


def decode_data(raw: bytes) -> UnixFSData:
    """The UnixFS message in ``raw``: fields in order, none unknown, in canonical form."""
    values: dict[str, object] = {"blocksizes": []}
    pos, end, last = 0, len(raw), 0
    while pos < end:
        key, pos = _read_varint(raw, pos)
        number, wire = key >> 3, key & 7
        if number < last or (number == last and number != 4):
            raise NotUnixFS("UnixFS fields are repeated or out of order")
        last = number
        if number in _VARINT_FIELDS or number == 4:
            if wire != 0:
                raise NotUnixFS(f"UnixFS field {number} has the wrong wire type")
            value, pos = _read_varint(raw, pos)
            if number == 4:
                values["blocksizes"].append(value)  # type: ignore[attr-defined]
            else:
                values[_VARINT_FIELDS[number]] = value
        elif number in _BYTES_FIELDS:
            if wire != 2:
                raise NotUnixFS(f"UnixFS field {number} has the wrong wire type")
            length, pos = _read_varint(raw, pos)
            if pos + length > end:
                raise NotUnixFS("UnixFS data ends inside a field")
            values[_BYTES_FIELDS[number]] = raw[pos : pos + length]
            pos += length
        else:
            raise NotUnixFS(f"UnixFS data has an unknown field {number}")
    if "type" not in values:
        raise NotUnixFS("UnixFS data has no type")
    message = UnixFSData(**values)  # type: ignore[arg-type]
    if message.type not in TYPE_NAMES:
        raise NotUnixFS(f"UnixFS type {message.type} is unknown")
    if message.encode() != raw:
        raise NotUnixFS("UnixFS data is not in canonical form")
    return message


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    try:
        parsed = decode_uvarint(buf, pos)
    except MalformedMessage:
        parsed = None
    if parsed is None:
        raise NotUnixFS("UnixFS data has a malformed varint")
    return parsed


# --- import ---------------------------------------------------------------------------------


class Entry(NamedTuple):
    """A file or directory as its parent links to it."""

    cid: CID
    tsize: int  # bytes of every block under it (the link's Tsize)
    filesize: int  # bytes of file content under it (0 for a directory)


def _file_node(children: list[Entry], emit: Emit) -> Entry:
    data = UnixFSData(FILE, blocksizes=[c.filesize for c in children])
    data.filesize = sum(data.blocksizes)
    # as the JS importer: empty leaves get no link (only an empty file has one, alone)
    links = [PBLink(c.cid, "", c.tsize) for c in children if c.filesize > 0]
    node = encode_node(PBNode(links, data.encode()))
    block = Block(cid_for(node, DAG_PB), node)
    emit(block)
    return Entry(block.cid, len(node) + sum(link.tsize or 0 for link in links), data.filesize)


def read_chunk(src: ByteSource, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end (a pipe may return less per read)."""
    first = src.read(size)
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    got = len(first)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def import_file(
    src: ByteSource,
    emit: Emit,
    *,
    chunk: int = CHUNK,
    max_links: int = MAX_LINKS,
    progress: Callable[[int], None] | None = None,
) -> Entry:
    """Cut ``src`` into a balanced UnixFS file; every block goes to ``emit``, the root last."""
    # levels[0] holds leaves, levels[k] nodes of height k; a level full of max_links entries
    # becomes one node of the next at once, so each level holds at most max_links entries.
    levels: list[list[Entry]] = [[]]
    leaves = 0
    done = 0
    while True:
        data = read_chunk(src, chunk)
        if not data and leaves:
            break
        leaf = raw_block(data)
        emit(leaf)
        leaves += 1
        done += len(data)
        if progress is not None:
            progress(done)
        _push(levels, 0, Entry(leaf.cid, len(data), len(data)), emit, max_links)
        if len(data) < chunk:
            break
    if leaves == 1:
        return levels[0][0]  # one chunk: the raw leaf is the file (reduceSingleLeafToSelf)
    # Close the tree from the bottom: a level's partial batch becomes a node of the level
    # above, until one level holds the one root and nothing is above it.
    height = 0
    while True:
        above = any(levels[h] for h in range(height + 1, len(levels)))
        pending = levels[height]
        if len(pending) == 1 and not above and height > 0:
            return pending[0]
        if pending:
            levels[height] = []
            _push(levels, height + 1, _file_node(pending, emit), emit, max_links)
        height += 1


def _push(levels: list[list[Entry]], height: int, entry: Entry, emit: Emit, max_links: int) -> None:
    while len(levels) <= height:
        levels.append([])
    levels[height].append(entry)
    if len(levels[height]) == max_links:
        full = levels[height]
        levels[height] = []
        _push(levels, height + 1, _file_node(full, emit), emit, max_links)


def directory_node(entries: dict[str, Entry], emit: Emit) -> Entry:
    """A directory node linking ``entries`` by name (refused where IPFS would shard it)."""
    links = sorted(
        (PBLink(e.cid, name, e.tsize) for name, e in entries.items()),
        key=lambda link: (link.name or "").encode(),
    )
    estimate = sum(len((link.name or "").encode()) + len(link.cid.cid_bytes) for link in links)
    if estimate > SHARD_THRESHOLD:
        raise LimitExceeded(
            f"a directory of {len(links)} entries would be HAMT-sharded by IPFS,"
            " which peerkit does not write yet",
            hint="split it into subdirectories",
        )
    node = encode_node(PBNode(links, UnixFSData(DIRECTORY).encode()))
    block = Block(cid_for(node, DAG_PB), node)
    emit(block)
    return Entry(block.cid, len(node) + sum(link.tsize or 0 for link in links), 0)


def import_path(
    path: Path,
    emit: Emit,
    *,
    hidden: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Entry:
    """A file, or a directory tree, as UnixFS (as ``ipfs add -r``: dot files only with
    ``hidden``; symlinks are refused rather than followed)."""
    total = [0]

    def counted(done: int, base: list[int] = total) -> None:
        if progress is not None:
            progress(base[0] + done)

    def walk(p: Path) -> Entry:
        info = p.lstat()
        if stat.S_ISLNK(info.st_mode):
            raise UsageError(f"{p} is a symbolic link", hint="peerkit does not store links yet")
        if stat.S_ISDIR(info.st_mode):
            entries = {}
            for child in sorted(os.listdir(p)):
                if child.startswith(".") and not hidden:
                    continue
                entries[child] = walk(p / child)
            return directory_node(entries, emit)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{p} is not a regular file or directory")
        with p.open("rb") as f:
            entry = import_file(f, emit, progress=counted)
        total[0] += entry.filesize
        return entry

    return walk(path)


# --- read -----------------------------------------------------------------------------------


class Node(NamedTuple):
    """A UnixFS node as read: its links and its message (None for a raw leaf)."""

    links: list[PBLink]
    unixfs: UnixFSData | None
    raw: bytes | None  # a raw leaf's bytes


def read_node(cid: CID, data: bytes) -> Node:
    codec = cid_codec(cid)
    if codec == RAW:
        return Node([], None, data)
    if codec != DAG_PB:
        raise NotUnixFS(f"{cid.encode()} is not a UnixFS node (it is not DAG-PB)")
    try:
        pb = decode_node(data)
    except DagPbError as exc:
        raise NotUnixFS(f"{cid.encode()}: {exc}") from None
    if pb.data is None:
        raise NotUnixFS(f"{cid.encode()} is DAG-PB without UnixFS data")
    return Node(pb.links, decode_data(pb.data), None)


def kind(node: Node) -> str:
    """ "file", "directory" or another UnixFS type's name."""
    if node.unixfs is None:
        return "file"
    return TYPE_NAMES[node.unixfs.type]


def file_size(node: Node) -> int:
    if node.unixfs is None:
        return len(node.raw or b"")
    return node.unixfs.size


def read_range(
    get_data: GetData, cid: CID, start: int = 0, end: int | None = None, *, depth: int = 0
) -> Iterator[bytes]:
    """The bytes ``start``..``end`` (exclusive) of the file at ``cid``; only the leaves the
    range covers are read (``blocksizes`` say which)."""
    if depth > 64:
        raise NotUnixFS("UnixFS file nests deeper than 64 levels")
    node = read_node(cid, get_data(cid))
    if node.unixfs is None:
        yield (node.raw or b"")[start:end]
        return
    message = node.unixfs
    if message.type not in (FILE, RAW_TYPE):
        raise NotUnixFS(f"{cid.encode()} is a {TYPE_NAMES[message.type]}, not a file")
    if len(message.blocksizes) != len(node.links):
        raise NotUnixFS(
            f"{cid.encode()}: {len(node.links)} links but {len(message.blocksizes)} sizes"
        )
    offset = 0
    inline = message.data or b""
    if inline:
        piece = inline[max(start, 0) : None if end is None else max(end, 0)]
        if piece:
            yield piece
        offset = len(inline)
    for link, size in zip(node.links, message.blocksizes, strict=True):
        lo, hi = offset, offset + size
        offset = hi
        if hi <= start or (end is not None and lo >= end):
            continue
        yield from read_range(
            get_data,
            parse_cid(link.cid),
            max(start - lo, 0),
            None if end is None or end >= hi else end - lo,
            depth=depth + 1,
        )


def list_directory(node: Node) -> list[PBLink]:
    if node.unixfs is None or node.unixfs.type != DIRECTORY:
        what = (
            "a HAMT-sharded directory" if node.unixfs and node.unixfs.type == HAMT_SHARD else None
        )
        raise NotUnixFS(f"not a directory{'' if what is None else f' peerkit can read ({what})'}")
    return node.links


def resolve_path(get_data: GetData, root: CID, path: list[str]) -> CID:
    """The CID at ``root``/``path`` through UnixFS directories; StorageError if absent."""
    cid = root
    for i, segment in enumerate(path):
        node = read_node(cid, get_data(cid))
        found = next((lk for lk in list_directory(node) if lk.name == segment), None)
        if found is None:
            raise NoSuchPath(f"no {'/'.join(path[: i + 1])} under {root.encode()}")
        cid = parse_cid(found.cid)
    return cid


class NoSuchPath(StorageError):
    code = "no_such_path"
