"""UnixFS and DAG-PB: strict decoding, balanced trees, byte ranges, directories (the CIDs are
checked against the JavaScript reference in tests/interop/test_unixfs_js.py)."""

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerkit.blocks import DAG_PB, Block, cid_for, links, raw_block
from peerkit.dagpb import DagPbError, PBLink, PBNode, decode_node, encode_node
from peerkit.storage.errors import LimitExceeded
from peerkit.storage.unixfs import (
    FILE,
    Entry,
    NoSuchPath,
    NotUnixFS,
    UnixFSData,
    decode_data,
    directory_node,
    import_file,
    read_node,
    read_range,
    resolve_path,
)

LEAF = raw_block(b"leaf").cid


def store_of(blocks):
    return {b.cid.cid_bytes: b.data for b in blocks}


def test_dag_pb_round_trips_in_canonical_form():
    node = PBNode([PBLink(LEAF, "a", 4), PBLink(LEAF, "b", None)], b"\x08\x01")
    data = encode_node(node)
    assert decode_node(data) == node
    assert links(Block(cid_for(data, DAG_PB), data)) == [LEAF, LEAF]


@pytest.mark.parametrize(
    ("what", "data"),
    [
        ("data before links", b"\x0a\x00" + b"\x12\x24\x0a\x22" + b"\x00" * 34),
        ("unknown field", b"\x1a\x00"),
        ("two data fields", b"\x0a\x00\x0a\x00"),
        ("non-minimal varint", b"\x0a\x80\x00"),
        ("truncated", b"\x0a\x05ab"),
        ("link without hash", b"\x12\x02\x12\x00"),
        ("link fields out of order", b"\x12\x04\x12\x00\x0a\x00"),
    ],
)
def test_dag_pb_decoding_is_strict(what, data):
    with pytest.raises(DagPbError):
        decode_node(data)


def test_dag_pb_links_must_be_sorted_by_name():
    with pytest.raises(DagPbError, match="sorted"):
        encode_node(PBNode([PBLink(LEAF, "b"), PBLink(LEAF, "a")]))
    a = encode_node(PBNode([PBLink(LEAF, "a")]))
    b = encode_node(PBNode([PBLink(LEAF, "b")]))
    assert decode_node(a + b).links[1].name == "b"
    with pytest.raises(DagPbError, match="sorted"):
        decode_node(b + a)  # well-formed protobuf, links out of order


def test_unixfs_data_is_strict():
    message = UnixFSData(FILE, filesize=3, blocksizes=[1, 2])
    assert decode_data(message.encode()) == message
    with pytest.raises(NotUnixFS, match="unknown field"):
        decode_data(message.encode() + b"\x48\x01")
    with pytest.raises(NotUnixFS, match="order"):
        decode_data(b"\x18\x03\x08\x02")
    with pytest.raises(NotUnixFS, match="no type"):
        decode_data(b"\x18\x03")


def import_bytes(data, chunk, max_links):
    blocks = []
    entry = import_file(io.BytesIO(data), blocks.append, chunk=chunk, max_links=max_links)
    return entry, blocks


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(0, 5000),
    chunk=st.integers(1, 300),
    max_links=st.integers(2, 6),
    bounds=st.tuples(st.integers(0, 5100), st.integers(0, 5100)),
)
def test_any_byte_range_of_a_deep_tree_reads_back(size, chunk, max_links, bounds):
    data = random.Random(size).randbytes(size)
    entry, blocks = import_bytes(data, chunk, max_links)
    assert blocks[-1].cid == entry.cid  # the root comes last
    assert entry.filesize == size
    store = store_of(blocks)
    get = lambda c: store[c.cid_bytes]  # noqa: E731
    start, end = sorted(bounds)
    assert b"".join(read_range(get, entry.cid)) == data
    assert b"".join(read_range(get, entry.cid, start, end)) == data[start:end]


def test_a_range_reads_only_the_leaves_it_covers():
    data = random.Random(1).randbytes(100_000)
    entry, blocks = import_bytes(data, 1000, 10)
    store = store_of(blocks)
    read = []

    def get(cid):
        read.append(cid)
        return store[cid.cid_bytes]

    assert b"".join(read_range(get, entry.cid, 50_500, 51_500)) == data[50_500:51_500]
    assert sum(c.cid_bytes[1] != DAG_PB for c in read) == 2  # two leaves, not 100


def test_memory_stays_bounded_whatever_the_file_size():
    # 64 MiB through the importer, every block dropped as it is made: what the importer keeps
    # (one pending list per tree level) must not grow with the file
    import tracemalloc

    class Zeros(io.RawIOBase):
        left = 64 * 1024 * 1024

        def read(self, n=-1):
            n = min(n, self.left)
            self.left -= n
            return bytes(n)

    tracemalloc.start()
    try:
        entry = import_file(Zeros(), lambda block: None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.filesize == 64 * 1024 * 1024
    assert peak < 4 * 1024 * 1024, peak  # a few 256 KiB chunks, not the 64 MiB


def test_directories_resolve_paths_and_refuse_what_ipfs_would_shard():
    blocks = []
    leaf = raw_block(b"hello")
    blocks.append(leaf)
    sub = directory_node({"hello.txt": Entry(leaf.cid, 5, 5)}, blocks.append)
    root = directory_node({"sub": sub, "a": Entry(leaf.cid, 5, 5)}, blocks.append)
    store = store_of(blocks)
    get = lambda c: store[c.cid_bytes]  # noqa: E731
    assert [lk.name for lk in read_node(root.cid, get(root.cid)).links] == ["a", "sub"]
    assert resolve_path(get, root.cid, ["sub", "hello.txt"]) == leaf.cid
    with pytest.raises(NoSuchPath):
        resolve_path(get, root.cid, ["sub", "nope"])
    with pytest.raises(NotUnixFS, match="not a directory"):
        resolve_path(get, root.cid, ["a", "x"])
    many = {f"{i:0200d}": Entry(leaf.cid, 5, 5) for i in range(1200)}
    with pytest.raises(LimitExceeded, match="HAMT"):
        directory_node(many, lambda b: None)
