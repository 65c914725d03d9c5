"""Bounds on what comes from outside: nesting depth, and strings fit to log or count.

A peer decodes bytes chosen by strangers. The C decoders under peerkit (msgspec, cbrrr) recurse
into nested arrays and maps, and so does Python code that later walks a decoded value; a frame of
a thousand nested one-element arrays is about a kilobyte. So every value that may hold arbitrary
data (``Any`` fields, DAG-CBOR blocks) is checked against :data:`MAX_DEPTH` as it is decoded,
and a ``RecursionError`` from a decoder is turned into the boundary's typed error by the caller.

Everything here is pure and cheap: the depth walk is iterative and stops at the first value
nested too deeply.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec

T = TypeVar("T")
D = TypeVar("D")

#: how deeply arrays and maps may nest inside one decoded value (IPLD data, app payloads).
#: JSON-LD documents, quads and CRDT state use well under 20 levels; 100 leaves room without
#: letting a value reach the interpreter's recursion limit (1,000 frames) when walked.
MAX_DEPTH: Final = 100

#: the highest recursion limit under which peerkit lets msgspec decode outside input. msgspec
#: recurses in C once per level of nesting (into ``Any`` fields, and to skip raw values), bounded
#: only by the interpreter's recursion limit: at Python's default (1,000) a deep frame is a
#: RecursionError, turned into the boundary's typed error. But the limit is process-wide, and
#: importing eth_account (py_ecc), as a dapp's wallet code does, raises it to 100,000; msgspec
#: then exhausts an 8 MiB thread stack at 20,000-30,000 levels (a 30 KB frame), which kills the
#: process instead of raising. 4,000 levels is a seventh of that.
C_STACK_SAFE_LIMIT: Final = 4_000

_getrecursionlimit = sys.getrecursionlimit


def decode_within_c_stack(decode: Callable[[D], T], data: D) -> T:
    """``decode(data)``, with the recursion limit lowered to :data:`C_STACK_SAFE_LIMIT` while it
    runs if something raised it past that (see there). The limit is read every call: an app may
    import eth_account at any time. The GIL is held throughout unless a decoded struct runs
    Python code (``__post_init__``); a thread that ran meanwhile would see 4,000, four times
    Python's default."""
    limit = _getrecursionlimit()
    if limit <= C_STACK_SAFE_LIMIT:
        return decode(data)
    sys.setrecursionlimit(C_STACK_SAFE_LIMIT)
    try:
        return decode(data)
    finally:
        sys.setrecursionlimit(limit)


#: longest string from outside that peerkit itself puts into a log event
MAX_LOGGED: Final = 120
#: longest value of any log field once rendered (the logging set-up cuts the rest)
MAX_LOG_FIELD: Final = 2048


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when ``value`` nests lists/tuples/dicts (or structs) more than ``limit`` levels.

    Recursive, but never deeper than ``limit`` (it stops there), so it cannot itself reach the
    interpreter's recursion limit; recursion is ~3x faster here than an explicit stack."""
    return _deeper(value, limit)


def _deeper(node: Any, budget: int) -> bool:
    if isinstance(node, dict):
        children: Any = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    elif isinstance(node, msgspec.Struct):
        children = msgspec.structs.astuple(node)
    else:
        return False
    if budget <= 0:
        return True
    for child in children:
        if isinstance(child, (dict, list, tuple, msgspec.Struct)) and _deeper(child, budget - 1):
            return True
    return False


def clip(text: object, limit: int = MAX_LOGGED) -> str:
    """``text`` as a string of at most ``limit`` characters (marked when cut), for logs."""
    s = text if isinstance(text, str) else repr(text)
    if len(s) <= limit:
        return s
    return f"{s[: limit - 20]}...({len(s)} chars)"


# --- which message types can hold arbitrarily nested values ---------------------------------

_open: dict[type, bool] = {}


def is_open(msg_type: type) -> bool:
    """True when ``msg_type`` has a field that may nest without bound (``Any``, or a struct
    type that refers to itself). Only such types need a depth check after decoding: a closed
    type's depth is fixed by its definition."""
    try:
        return _open[msg_type]
    except KeyError:
        result = _open[msg_type] = _has_open_part(msgspec.inspect.type_info(msg_type))
        return result


def _has_open_part(t: Any, ancestors: frozenset[type] = frozenset()) -> bool:
    """Walk the type tree; a struct met again below itself is recursive, hence open."""
    mi = msgspec.inspect
    if isinstance(t, mi.AnyType):
        return True
    if isinstance(t, mi.StructType):
        if t.cls in ancestors:
            return True
        inner = ancestors | {t.cls}
        return any(_has_open_part(f.type, inner) for f in t.fields)
    if isinstance(t, (mi.DataclassType, mi.TypedDictType, mi.NamedTupleType)):
        return any(_has_open_part(f.type, ancestors) for f in t.fields)
    if isinstance(t, mi.UnionType):
        return any(_has_open_part(u, ancestors) for u in t.types)
    if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
        return _has_open_part(t.item_type, ancestors)
    if isinstance(t, mi.TupleType):
        return any(_has_open_part(u, ancestors) for u in t.item_types)
    if isinstance(t, mi.DictType):
        return _has_open_part(t.key_type, ancestors) or _has_open_part(t.value_type, ancestors)
    return False


class LogThrottle:
    """At most ``rate`` events a second per event name (bursts of ``burst``); the next event
    let through says how many were suppressed. A peer sending garbage as fast as it can must
    not turn the log into its amplifier. Keys are event names chosen by peerkit: bounded."""

    def __init__(self, rate: float = 10.0, burst: int = 20, clock: Any = None) -> None:
        from .ratelimit import Buckets, Rate

        kwargs = {"clock": clock} if clock is not None else {}
        self._buckets = Buckets(Rate(rate, burst), **kwargs)
        self._suppressed: dict[str, int] = {}

    def allow(self, event: str) -> int | None:
        """None to suppress this event; otherwise the number suppressed since the last one."""
        if not self._buckets.take(event):
            self._suppressed[event] = self._suppressed.get(event, 0) + 1
            return None
        return self._suppressed.pop(event, 0)
