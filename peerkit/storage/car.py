"""CAR v1 (Content Addressable aRchive): move DAGs to and from other IPFS tooling.

    car     = uvarint(len(header)) header section*
    header  = dag-cbor {"roots": [CID, ...], "version": 1}
    section = uvarint(len(cid) + len(data)) cid data

Every block read from a CAR is verified against its CID before it is returned.
"""

from __future__ import annotations

import io
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
    return read_car_stream(io.BytesIO(data), max_section=max_section)


def read_car_stream(
    src: BinaryIO, *, max_section: int = MAX_SECTION
) -> tuple[list[CID], Iterator[Block]]:
    """Parse a CAR v1 from a file: its roots, and its blocks (verified) one section at a time,
    so a CAR of any size is read in the memory of its largest block."""
    header_len = _read_varint(src, "header length")
    if header_len is None:
        raise CarError("CAR file is empty")
    if header_len > max_section:
        raise LimitExceeded(f"CAR header of {header_len} bytes is too large")
    try:
        header = decode(_read_exact(src, header_len, "header"))
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
    return [parse_cid(r) for r in roots], _sections(src, max_section)


def _sections(src: BinaryIO, max_section: int) -> Iterator[Block]:
    while (length := _read_varint(src, "section length")) is not None:
        if length > max_section:
            raise LimitExceeded(f"CAR section of {length} bytes exceeds {max_section}")
        section = _read_exact(src, length, "block")
        cid_len = _cid_length(section)
        try:
            cid = parse_cid(section[:cid_len])
        except InvalidCID as exc:
            raise CarError(f"CAR holds a block peerkit does not store: {exc}") from None
        yield verify(cid, section[cid_len:])


def _read_varint(src: BinaryIO, what: str) -> int | None:
    """The next unsigned varint, or None at a clean end of file."""
    value = shift = 0
    while True:
        byte = src.read(1)
        if not byte:
            if shift == 0:
                return None
            raise CarError(f"CAR {what} is malformed or missing")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise CarError(f"CAR {what} is malformed or missing")


def _read_exact(src: BinaryIO, length: int, what: str) -> bytes:
    data = src.read(length)
    if len(data) != length:
        raise CarError(f"CAR file ends inside a {what}")
    return data


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
