"""CAR v1 (Content Addressable aRchive): move DAGs to and from other IPFS tooling.

    car     = uvarint(len(header)) header section*
    header  = dag-cbor {"roots": [CID, ...], "version": 1}
    section = uvarint(len(cid) + len(data)) cid data

Every block read from a CAR is verified against its CID before it is returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ..blocks import CID, Block, decode, encode, parse_cid, verify
from ..wire import decode_uvarint, encode_uvarint
from .errors import BlockError, InvalidCID, LimitExceeded, StorageError

MAX_SECTION = 2 * 1024 * 1024  # larger than any block we accept (1 MiB) plus its CID


class CarError(StorageError):
    code = "bad_car"


def write_car(out: BinaryIO, roots: list[CID], blocks: Iterable[Block]) -> int:
    """Write a CAR v1 to ``out``; returns the number of blocks written."""
    header = encode({"roots": list(roots), "version": 1})
    out.write(encode_uvarint(len(header)) + header)
    n = 0
    for block in blocks:
        cid = block.cid.cid_bytes
        out.write(encode_uvarint(len(cid) + len(block.data)) + cid + block.data)
        n += 1
    return n


def read_car(data: bytes, *, max_section: int = MAX_SECTION) -> tuple[list[CID], Iterator[Block]]:
    """Parse a CAR v1 held in memory: its roots, and its blocks (verified) as they are read."""
    header_len, pos = _varint(data, 0, "header length")
    if header_len > max_section:
        raise LimitExceeded(f"CAR header of {header_len} bytes is too large")
    try:
        header = decode(data[pos : pos + header_len])
    except (StorageError, BlockError) as exc:
        raise CarError(f"CAR header is not DAG-CBOR: {exc}") from None
    if not isinstance(header, dict) or header.get("version") != 1:
        raise CarError(
            "not a CAR v1 file (header version is not 1)",
            hint="CAR v2 files are not supported yet; export as v1",
        )
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise CarError("CAR header has no list of root CIDs")
    return [parse_cid(r) for r in roots], _sections(data, pos + header_len, max_section)


def _sections(data: bytes, pos: int, max_section: int) -> Iterator[Block]:
    end = len(data)
    while pos < end:
        length, pos = _varint(data, pos, "section length")
        if length > max_section:
            raise LimitExceeded(f"CAR section of {length} bytes exceeds {max_section}")
        if pos + length > end:
            raise CarError("CAR file ends inside a block")
        section = data[pos : pos + length]
        cid_len = _cid_length(section)
        try:
            cid = parse_cid(section[:cid_len])
        except InvalidCID as exc:
            raise CarError(f"CAR holds a block peerkit does not store: {exc}") from None
        yield verify(cid, section[cid_len:])
        pos += length


def _varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    try:
        parsed = decode_uvarint(data, pos)
    except Exception:
        parsed = None
    if parsed is None:
        raise CarError(f"CAR {what} is malformed or missing")
    return parsed


def _cid_length(section: bytes) -> int:
    """Length of the CID at the start of a section (CIDv1: version, codec, multihash)."""
    if section[:2] == b"\x12\x20":
        return 34  # CIDv0: a bare sha2-256 multihash
    pos = 0
    for _ in range(3):  # version, codec, hash function
        _, pos = _varint(section, pos, "CID")
    digest_len, pos = _varint(section, pos, "CID digest length")
    return pos + digest_len
