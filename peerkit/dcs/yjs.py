"""The two small pieces of the Yjs v1 update format we read ourselves (pure): state vectors
(which clients an update or a document has, and up to which clock).

A state vector is ``varuint(n)`` then ``n`` pairs ``varuint(client) varuint(clock)``
(lib0 encoding: 7 bits per byte, low first, high bit = more). pycrdt encodes and applies
updates; it does not hand out a state vector as numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pycrdt import Doc

#: the most bytes a varuint may take (Yjs client ids are 53-bit, clocks 32-bit)
_MAX_VARUINT = 10


class StateVectorError(ValueError):
    """Bytes that are not a state vector."""


def _read_varuint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for i in range(_MAX_VARUINT):
        if pos + i >= len(data):
            raise StateVectorError("state vector ends inside a number")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos + i + 1
        shift += 7
    raise StateVectorError("a number in the state vector is too long")


def _write_varuint(value: int, out: bytearray) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def decode_state_vector(data: bytes) -> dict[int, int]:
    count, pos = _read_varuint(data, 0)
    vector: dict[int, int] = {}
    for _ in range(count):
        client, pos = _read_varuint(data, pos)
        clock, pos = _read_varuint(data, pos)
        vector[client] = clock
    if pos != len(data):
        raise StateVectorError("bytes after the state vector")
    return vector


def encode_state_vector(vector: dict[int, int]) -> bytes:
    out = bytearray()
    _write_varuint(len(vector), out)
    for client, clock in vector.items():
        _write_varuint(client, out)
        _write_varuint(clock, out)
    return bytes(out)


def state(doc: Doc) -> dict[int, int]:
    """The document's state vector: client -> the next clock it has of that client."""
    return decode_state_vector(doc.get_state())


def update_clients(update: bytes) -> set[int]:
    """The clients an update inserts items for (not those it only deletes from)."""
    from pycrdt import get_state  # on first use, as in doc.py

    return {c for c, clock in decode_state_vector(get_state(update)).items() if clock > 0}
