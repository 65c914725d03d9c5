"""Blocks and CIDs: strict DAG-CBOR and raw, CIDv1 with sha2-256, byte-identical with IPFS.

Core, not storage's: names, tokens and documents are DAG-CBOR too, whether or not this node
stores blocks.

The codec is ``cbrrr`` (C, strict): it has a real CID type, so a ``bytes`` value is always bytes
and only a :class:`CID` is a link (``libipld``, faster, encodes any bytes that happen to parse as
a CID as a link, silently changing the hash). It rejects non-canonical input on decode (map key
order, non-minimal integers, indefinite lengths, trailing bytes, tags other than 42).

peerkit's hashing rules, so that the same data gets the same CID here and in JavaScript
(``@ipld/dag-cbor``):

- a float with an integral value (``2.0``, ``-0.0``) that is a safe integer (|x| <= 2^53 - 1)
  is encoded as the integer; larger integral floats stay float64 (JS does exactly this:
  ``Number.isSafeInteger``; checked against @ipld/dag-cbor in tests/interop);
- NaN and +/-Infinity are refused (:class:`NotCanonical`);
- integers must fit in 64 bits; map keys must be strings.

Decoding accepts any valid DAG-CBOR, including integral floats written by other implementations.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any

import base58
import cbrrr
import msgspec
from cbrrr import CID

from .block_errors import BlockError, CorruptBlock, InvalidCID, NotCanonical
from .bounds import MAX_DEPTH, too_deep
from .dagpb import decode_node

DAG_CBOR = 0x71
RAW = 0x55
DAG_PB = 0x70  # IPFS files and directories (UnixFS), see dagpb.py
_PREFIX = {
    DAG_CBOR: b"\x01\x71\x12\x20",
    RAW: b"\x01\x55\x12\x20",
    DAG_PB: b"\x01\x70\x12\x20",
}
_PREFIXES = frozenset(_PREFIX.values())
#: a CIDv0 (``Qm...``): a bare sha2-256 multihash, always of a DAG-PB block
_V0_PREFIX = b"\x12\x20"


class Block(msgspec.Struct, frozen=True, gc=False):
    """A CID and the bytes it names.

    A msgspec Struct without GC tracking (it holds a CID and bytes, so it can never be part of a
    cycle): built in ~90 ns, where the NamedTuple it was cost 210-550 ns (more with many blocks
    alive, as the collector walked them) and a frozen dataclass 1.5 us.
    """

    cid: CID
    data: bytes

    @property
    def codec(self) -> int:
        return cid_codec(self.cid)


def cid_codec(cid: CID) -> int:
    return cid.cid_bytes[1]


def cid_for(data: bytes, codec: int = DAG_CBOR) -> CID:
    return CID(_PREFIX[codec] + hashlib.sha256(data).digest())


def parse_cid(value: str | bytes | CID) -> CID:
    """A CID from its base32 string (``bafy...``), its bytes, or a CID; only the forms we store."""
    if isinstance(value, CID):
        cid = value
    else:
        try:
            if isinstance(value, str) and value.startswith("Qm") and len(value) == 46:
                value = base58.b58decode(value)
            cid = CID.decode(value) if isinstance(value, str) else CID(bytes(value))
        except Exception as exc:  # cbrrr raises plain ValueErrors of several kinds
            raise InvalidCID(
                f"{value!r} is not a CID: {exc}",
                hint="CIDs look like bafy... (CIDv1, base32) or Qm... (CIDv0)",
            ) from None
    raw = cid.cid_bytes
    if len(raw) == 34 and raw[:2] == _V0_PREFIX:
        # Stored and sent as the CIDv1 of the same block: one key per block.
        return CID(_PREFIX[DAG_PB] + raw[2:])
    if len(raw) != 36 or raw[:4] not in _PREFIXES:
        raise InvalidCID(f"{cid.encode()} is not a CIDv1 sha2-256 dag-cbor, dag-pb or raw CID")
    return cid


def encode(obj: Any) -> bytes:
    """Strict DAG-CBOR bytes of ``obj`` under peerkit's hashing rules."""
    try:
        data: bytes = cbrrr.encode_dag_cbor(obj)
    except (ValueError, TypeError, OverflowError) as exc:
        raise NotCanonical(f"cannot encode as DAG-CBOR: {exc}", hint=_hint(exc)) from None
    # 0xfb heads every float: data without one (most data) is settled by one memchr (an int
    # operand; a bytes one costs 8x as much)
    if 0xFB in data:
        if _floats_as_integers is not None:
            return _floats_as_integers(data)
        return _settle_floats_in_python(data, obj)
    return data


# peerkit's C helper (peerkit/_cbor_floats.c), built at install where a C compiler is present:
# rewrites the integral floats in the encoded bytes in one pass (~0.1 us a record). Without it
# the value is walked in Python and encoded again (~3 us more for a record with an integral
# float): the same bytes (tests/unit/storage/test_blocks.py checks both ways agree).
_floats_as_integers: Callable[[bytes], bytes] | None
try:
    # by name: the import linter reads .py files only and took `from ._cbor_floats import`
    # for an import of the whole `peerkit` package
    _floats_as_integers = importlib.import_module(
        "peerkit._cbor_floats"
    ).integral_floats_as_integers
except ImportError:  # pragma: no cover - installs without a C compiler
    _floats_as_integers = None


def _settle_floats_in_python(data: bytes, obj: Any) -> bytes:
    if _MAYBE_INTEGRAL.search(data):
        normalised = _normalise_floats(obj)
        if normalised is not obj:
            # (cannot fail: the value encoded above, with some floats now safe integers)
            return cbrrr.encode_dag_cbor(normalised)
    return data


def _hint(exc: Exception) -> str | None:
    text = str(exc)
    if "NaN" in text or "Infinit" in text:
        return "NaN and Infinity have no hash; store them as strings, or leave them out"
    if isinstance(exc, OverflowError) or "integer" in text:
        return "integers must fit in 64 bits; store larger ones as strings"
    return None


# A float64 that is integral (or Inf/NaN) has either a large exponent (its first byte, sign and
# exponent's top bits, is 0x42-0x7f or 0xc2-0xff: |x| >= 2^33) or, below that, a mantissa whose
# last 8 bits are zero (its last byte is 0x00). Every float is written as 0xfb + 8 bytes, so one
# search at C speed rules out most data holding floats (i / 7 has a zero last byte once in
# 256); a match (a real candidate, or a 0xfb inside some other value) costs the walk over the
# value, which finds the floats for sure. (Reading each candidate's 8 bytes first cost more
# than the walk it saved: ~0.6 us a candidate, and float-heavy data has many.)
_MAYBE_INTEGRAL = re.compile(rb"\xfb(?:[\x42-\x7f\xc2-\xff]|[\s\S]{7}\x00)")


_MAX_SAFE = 2**53 - 1


def _normalise_floats(obj: Any) -> Any:
    """``obj`` with integral floats turned into ints; the same object when nothing changed.

    Called only on values cbrrr has already encoded, so there is no NaN or Infinity in them.
    Only containers are walked and only floats changed: the common leaves (text, ints, bytes,
    links) are passed over by their exact type, floats are settled inline, and a container is
    copied only once a value in it changes (a call per value cost 2x this walk)."""
    kind = type(obj)
    if kind is dict:
        return _normalise_dict(obj)
    if kind is list:
        return _normalise_list(obj)
    if kind is float:
        return _normalised_float(obj)
    if isinstance(obj, float):
        return _normalised_float(obj)
    if isinstance(obj, dict):
        return _normalise_dict(obj)
    if isinstance(obj, list):
        return _normalise_list(obj)
    return obj


#: value types that never hold a float: skipped without a call
_LEAVES = frozenset({str, int, bytes, bool, type(None), CID})


def _normalised_float(value: float) -> float | int:
    # As JavaScript: only safe integers (|x| <= 2^53 - 1) are written as integers.
    if value.is_integer() and -_MAX_SAFE <= value <= _MAX_SAFE:
        return int(value)
    return value


def _normalise_dict(obj: dict[Any, Any]) -> dict[Any, Any]:
    return _normalise_entries(obj, obj.items(), dict)


def _normalise_list(obj: list[Any]) -> list[Any]:
    if obj and type(obj[0]) is float:
        try:  # a list of floats, none of them integral: settled in C
            if not any(map(_float_is_integer, obj)):
                return obj
        except TypeError:  # not all floats: value by value
            pass
    return _normalise_entries(obj, enumerate(obj), list)


def _normalise_entries(
    obj: Any, entries: Iterable[tuple[Any, Any]], copy: Callable[[Any], Any]
) -> Any:
    """``obj`` (a dict or a list, given as its (key or index, value) entries) with each value
    normalised; copied once, on the first change."""
    out = None
    for key, value in entries:
        kind = type(value)
        if kind in _LEAVES or (kind is float and not value.is_integer()):
            continue
        new = _normalise_floats(value)
        if new is not value:
            if out is None:
                out = copy(obj)
            out[key] = new
    return obj if out is None else out


_float_is_integer = float.is_integer


def decode(data: bytes) -> Any:
    """The value of strict DAG-CBOR ``data``; NotCanonical for anything else, including values
    nested deeper than ``MAX_DEPTH`` (cbrrr decodes any depth; our walkers recurse)."""
    value = _decode(data)
    if _may_nest_deeply(data) and too_deep(value):
        raise NotCanonical(f"DAG-CBOR value nests deeper than {MAX_DEPTH} levels")
    return value


def _decode(data: bytes) -> Any:
    try:
        return cbrrr.decode_dag_cbor(data)
    except (cbrrr.CbrrrDecodeError, ValueError, EOFError, RecursionError) as exc:
        raise NotCanonical(f"not strict DAG-CBOR: {exc}") from None


# Every array or map header is one byte of major type 4 or 5 (0x80-0xbf) where it starts, so a
# value cannot nest deeper than the number of such bytes: counted at C speed, that settles most
# blocks without walking the decoded value (the walk costs ~4x the decode).
_NOT_CONTAINER_HEADS = bytes(b for b in range(256) if not 0x80 <= b <= 0xBF)


def _may_nest_deeply(data: bytes) -> bool:
    return len(data) > MAX_DEPTH and len(data.translate(None, _NOT_CONTAINER_HEADS)) > MAX_DEPTH


def make_block(obj: Any) -> Block:
    data = encode(obj)
    # cbrrr builds the CID with one call: ~1 us less per block than cid_for's Python steps
    return Block(_dag_cbor_cid(data), data)


_dag_cbor_cid = cbrrr.CID.cidv1_dag_cbor_sha256_32_from


def raw_block(data: bytes) -> Block:
    return Block(cid_for(data, RAW), bytes(data))


def verify(cid: CID, data: bytes) -> Block:
    """The block, if ``data`` hashes to ``cid``; CorruptBlock otherwise. Call on every block
    that comes from outside before storing or using it."""
    cid = parse_cid(cid)
    if hashlib.sha256(data).digest() != cid.cid_bytes[4:]:
        raise CorruptBlock(f"block {cid.encode()} does not match its hash: refusing it")
    return Block(cid, bytes(data))


def links(block: Block) -> list[CID]:
    """The CIDs a block links to, in order of appearance (raw blocks have none).

    The same walk bounds the nesting (NotCanonical past ``MAX_DEPTH``): the blocks walked here
    are the ones fetched from other peers, and the walk never recurses past the bound."""
    codec = block.codec
    if codec == RAW:
        return []
    if codec == DAG_PB:
        return [parse_cid(link.cid) for link in decode_node(block.data).links]
    out: list[CID] = []
    _collect(_decode(block.data), out, 0)
    return out


def _collect(obj: Any, out: list[CID], depth: int) -> None:
    if isinstance(obj, CID):
        out.append(obj)
    elif isinstance(obj, (dict, list)):
        if depth >= MAX_DEPTH:
            raise NotCanonical(f"DAG-CBOR value nests deeper than {MAX_DEPTH} levels")
        for v in obj.values() if isinstance(obj, dict) else obj:
            if isinstance(v, (CID, dict, list)):
                _collect(v, out, depth + 1)


__all__ = [
    "CID",
    "DAG_CBOR",
    "DAG_PB",
    "RAW",
    "Block",
    "BlockError",
    "CorruptBlock",
    "InvalidCID",
    "NotCanonical",
    "cid_for",
    "decode",
    "encode",
    "links",
    "make_block",
    "parse_cid",
    "raw_block",
    "verify",
]
