"""Append-only logs in bounded blocks: what every history that grows is stored as (a DCS member's
stream, a name's records).

A log is a sequence of entries (opaque bytes, each at most :data:`MAX_ENTRY`). It is stored as
blocks linked by CID, with one *head* block naming the whole:

    head  {"type": "peerkit/log", "count": n, "levels": [[CID...], ...], "tail": [bytes...],
           "meta": any}
    leaf  {"type": "peerkit/log-leaf", "entries": [bytes...]}           <= LEAF_BYTES of entries
    node  {"type": "peerkit/log-node", "children": [[CID, count]...]}  FANOUT children

New entries go to the head's ``tail``; a full tail is sealed into a leaf; ``levels[0]`` lists the
sealed leaves not yet grouped, and when it holds FANOUT of them they become one node appended to
``levels[1]``, and so on up (a counter in base FANOUT: older entries sit in higher levels). So:

- **appending writes only what is new**: the head (at most LEAF_BYTES of tail plus FANOUT CIDs a
  level) and, now and then, one sealed leaf and a few nodes; never the history;
- **every block is bounded by construction** (a head is far below the 1 MiB block limit even at
  four levels: 64^4 leaves);
- **a reader fetches only what it lacks**: two heads of one log share every sealed subtree, so a
  DAG fetch of the new head skips the blocks the reader has; and :func:`read` skips whole
  subtrees before the position it starts from (each node carries its count).

``meta`` is the owner's summary of the log (a name's current head record, a document's
snapshot), kept in the head so a restart need not read the history.

Pure: blocks in, blocks out; the caller stores them (``StorageClient.put_blocks`` with the head
last, pinned). No clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .blocks import CID, Block, BlockError, decode, make_block

HEAD_TYPE = "peerkit/log"
LEAF_TYPE = "peerkit/log-leaf"
NODE_TYPE = "peerkit/log-node"

#: a tail is sealed into a leaf once it holds this many bytes of entries
LEAF_BYTES = 4 * 1024
#: leaves (or nodes) grouped into one node of the level above
FANOUT = 64
#: the largest entry (so that a leaf, and a head's tail, stay bounded)
MAX_ENTRY = 256 * 1024
#: levels a head may hold: 64^6 leaves of 16 KiB is far more than any store holds
MAX_LEVELS = 6


class LogError(BlockError):
    """A log block that is malformed, or an entry that does not fit."""

    code = "bad_log"


@dataclass
class LogState:
    """What the owner of a log keeps in memory to append to it (the head, decoded)."""

    count: int = 0
    #: per level, oldest first: (CID, how many entries it holds) of the full subtrees not yet
    #: grouped into the level above
    levels: list[list[tuple[CID, int]]] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)
    tail_bytes: int = 0
    meta: Any = None

    def copy(self) -> LogState:
        return LogState(
            self.count,
            [list(level) for level in self.levels],
            list(self.tail),
            self.tail_bytes,
            self.meta,
        )

    def head_value(self) -> dict[str, Any]:
        return {
            "type": HEAD_TYPE,
            "count": self.count,
            "levels": [[[cid, n] for cid, n in level] for level in self.levels],
            "tail": list(self.tail),
            "meta": self.meta,
        }


def append(state: LogState, entries: list[bytes], meta: Any = None) -> list[Block]:
    """Append ``entries`` to ``state`` (in place); the blocks to store, the head last.

    ``meta`` replaces the head's summary (None keeps it). Raises LogError for an entry over
    MAX_ENTRY (checked before anything changes).
    """
    for entry in entries:
        if not isinstance(entry, bytes) or len(entry) > MAX_ENTRY:
            raise LogError(f"a log entry is bytes of at most {MAX_ENTRY} (got {_size(entry)})")
    new: list[Block] = []
    for entry in entries:
        if state.tail and state.tail_bytes + len(entry) > LEAF_BYTES:
            new += _seal_tail(state)
        state.tail.append(entry)
        state.tail_bytes += len(entry)
        state.count += 1
    if meta is not None:
        state.meta = meta
    new.append(make_block(state.head_value()))
    return new


def head_block(state: LogState) -> Block:
    return make_block(state.head_value())


def _seal_tail(state: LogState) -> list[Block]:
    leaf = make_block({"type": LEAF_TYPE, "entries": state.tail})
    out = [leaf]
    carry: tuple[CID, int] = (leaf.cid, len(state.tail))
    state.tail, state.tail_bytes = [], 0
    level = 0
    while True:
        if level == len(state.levels):
            if level >= MAX_LEVELS:
                raise LogError("the log is full")  # 64^6 leaves: never in practice
            state.levels.append([])
        state.levels[level].append(carry)
        if len(state.levels[level]) < FANOUT:
            return out
        group = state.levels[level]
        node = make_block({"type": NODE_TYPE, "children": [[cid, n] for cid, n in group]})
        out.append(node)
        state.levels[level] = []
        carry = (node.cid, sum(n for _, n in group))
        level += 1


def load(head: Any) -> LogState:
    """The state of a log from its decoded head block (LogError if it is not one)."""
    try:
        if not isinstance(head, dict) or head.get("type") != HEAD_TYPE:
            raise LogError("not a log head")
        levels = [[(_cid(c), _count(n)) for c, n in level] for level in head["levels"]]
        tail = [_entry(e) for e in head["tail"]]
        count = _count(head["count"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LogError(f"malformed log head: {exc}") from None
    if len(levels) > MAX_LEVELS or count != sum(n for level in levels for _, n in level) + len(
        tail
    ):
        raise LogError("log head counts do not add up")
    return LogState(count, levels, tail, sum(len(e) for e in tail), head.get("meta"))


def subtrees(state: LogState) -> list[tuple[CID, int]]:
    """The sealed subtrees of the log, oldest first, with their entry counts."""
    return [item for level in reversed(state.levels) for item in level]


def read(
    state: LogState, get: Callable[[CID], bytes], start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """Entries ``start`` to ``stop`` (positions from 0), fetching through ``get`` only the
    blocks that hold them: whole subtrees before ``start`` are skipped by their counts."""
    stop = state.count if stop is None else min(stop, state.count)
    position = 0
    for cid, n in subtrees(state):
        if position + n > start and position < stop:
            yield from _read_tree(cid, get, start - position, stop - position, MAX_LEVELS)
        position += n
    for entry in state.tail:
        if start <= position < stop:
            yield entry
        position += 1


def _read_tree(
    cid: CID, get: Callable[[CID], bytes], start: int, stop: int, levels: int
) -> Iterator[bytes]:
    """``levels``: how many node levels may still lie below (a log written by someone else
    may nest nodes as deep as it likes; ours never exceed MAX_LEVELS)."""
    value = decode(get(cid))
    if not isinstance(value, dict):
        raise LogError(f"log block {cid.encode()} is not a map")
    if value.get("type") == LEAF_TYPE:
        entries = value.get("entries")
        if not isinstance(entries, list):
            raise LogError(f"log leaf {cid.encode()} has no entries")
        for entry in entries[max(0, start) : max(0, stop)]:
            yield _entry(entry)
        return
    if value.get("type") != NODE_TYPE or not isinstance(value.get("children"), list):
        raise LogError(f"log block {cid.encode()} is neither a leaf nor a node")
    if levels <= 0:
        raise LogError(f"log nodes nest deeper than {MAX_LEVELS} levels")
    position = 0
    for child in value["children"]:
        try:
            child_cid, n = _cid(child[0]), _count(child[1])
        except (IndexError, TypeError, KeyError):
            raise LogError(f"log node {cid.encode()} has a malformed child") from None
        if position + n > start and position < stop:
            yield from _read_tree(child_cid, get, start - position, stop - position, levels - 1)
        position += n
        if position >= stop:
            return


def _cid(value: Any) -> CID:
    if not isinstance(value, CID):
        raise LogError("a log link is not a CID")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LogError("a log count is not a non-negative integer")
    return value


def _entry(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) > MAX_ENTRY:
        raise LogError(f"a log entry is not bytes of at most {MAX_ENTRY}")
    return value


def _size(value: Any) -> str:
    return f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
