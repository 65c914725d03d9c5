"""DAG-PB: the protobuf block format of IPFS files and directories (codec 0x70).

    PBNode = Links (field 2, repeated PBLink) then Data (field 1, optional bytes)
    PBLink = Hash (field 1, CID bytes) then Name (field 2, optional string)
             then Tsize (field 3, optional uint64)

Our own code rather than a protobuf library: the format is two small messages, and the spec
(ipld/specs "DAG-PB") asks for stricter decoding than protobuf gives. A block decodes only in
its one canonical form: fields in order, no unknown or duplicate fields, minimal varints, links
sorted by name bytes — checked by re-encoding what was read and comparing. @ipld/dag-pb writes
exactly this form (tests/interop checks it).
"""

from __future__ import annotations

from typing import NamedTuple

from cbrrr import CID

from .block_errors import NotCanonical
from .errors import MalformedMessage
from .wire import decode_uvarint, encode_uvarint


class DagPbError(NotCanonical):
    """Bytes that are not a canonical DAG-PB block, or a node that cannot be one."""


class PBLink(NamedTuple):
    cid: CID
    name: str | None = None
    tsize: int | None = None


class PBNode(NamedTuple):
    links: list[PBLink]
    data: bytes | None = None


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The minimal unsigned varint at ``pos`` (wire.py's rules: at most 63 bits)."""
    try:
        parsed = decode_uvarint(buf, pos)
    except MalformedMessage as exc:
        raise DagPbError(f"DAG-PB varint is malformed: {exc}") from None
    if parsed is None:
        raise DagPbError("DAG-PB block ends inside a varint")
    return parsed


def name_key(link: PBLink) -> bytes:
    """The order of links in a node: by name, as UTF-8 bytes (no name sorts as empty)."""
    return (link.name or "").encode()


def encode_node(node: PBNode) -> bytes:
    """The canonical bytes of ``node``; DagPbError if its links are not sorted by name."""
    out = bytearray()
    previous = b""
    for i, link in enumerate(node.links):
        key = name_key(link)
        if i and key < previous:
            raise DagPbError("DAG-PB links must be sorted by name bytes")
        previous = key
        body = _encode_link(link)
        out += b"\x12" + encode_uvarint(len(body)) + body
    if node.data is not None:
        out += b"\x0a" + encode_uvarint(len(node.data)) + node.data
    return bytes(out)


def _encode_link(link: PBLink) -> bytes:
    cid = link.cid.cid_bytes
    out = bytearray(b"\x0a" + encode_uvarint(len(cid)) + cid)
    if link.name is not None:
        name = link.name.encode()
        out += b"\x12" + encode_uvarint(len(name)) + name
    if link.tsize is not None:
        if not 0 <= link.tsize <= 2**53 - 1:  # as @ipld/dag-pb: a safe integer
            raise DagPbError(f"DAG-PB link size {link.tsize} is out of range")
        out += b"\x18" + encode_uvarint(link.tsize)
    return bytes(out)


def decode_node(data: bytes) -> PBNode:
    """The node in canonical DAG-PB ``data``; DagPbError for anything else."""
    links: list[PBLink] = []
    payload: bytes | None = None
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        if key not in (0x0A, 0x12):
            raise DagPbError(f"DAG-PB node has an unknown field or wire type (key {key})")
        length, pos = _read_varint(data, pos)
        if pos + length > end:
            raise DagPbError("DAG-PB block ends inside a field")
        body = data[pos : pos + length]
        pos += length
        if key == 0x12:
            if payload is not None:
                raise DagPbError("DAG-PB links must come before the data")
            links.append(_decode_link(body))
        else:
            if payload is not None:
                raise DagPbError("DAG-PB node has two data fields")
            payload = body
    node = PBNode(links, payload)
    if encode_node(node) != data:  # also refuses unsorted links
        raise DagPbError("DAG-PB block is not in canonical form")
    return node


def _decode_link(body: bytes) -> PBLink:
    hash_bytes: bytes | None = None
    name_bytes: bytes | None = None
    tsize: int | None = None
    pos, end = 0, len(body)
    last = 0
    while pos < end:
        key, pos = _read_varint(body, pos)
        field, wire = key >> 3, key & 7
        if field not in (1, 2, 3) or wire != (0 if field == 3 else 2):
            raise DagPbError(f"DAG-PB link has an unknown field or wire type (key {key})")
        if field <= last:
            raise DagPbError("DAG-PB link fields are repeated or out of order")
        last = field
        if field == 3:
            tsize, pos = _read_varint(body, pos)
            continue
        length, pos = _read_varint(body, pos)
        if pos + length > end:
            raise DagPbError("DAG-PB link ends inside a field")
        if field == 1:
            hash_bytes = body[pos : pos + length]
        else:
            name_bytes = body[pos : pos + length]
        pos += length
    if hash_bytes is None:
        raise DagPbError("DAG-PB link has no hash")
    try:
        name = None if name_bytes is None else name_bytes.decode()
    except UnicodeDecodeError:
        raise DagPbError("DAG-PB link name is not UTF-8") from None
    return PBLink(CID(hash_bytes), name, tsize)
