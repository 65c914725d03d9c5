"""How a shared document is kept on disk (pure: blocks in, blocks out).

Each author's stream is an append-only log (``peerkit.applog``) of its entries (msgpack
``Entry``, already encrypted and signed), so saving writes only the entries that arrived since
the last save, never the history. One small root block per document ties them together:

    {"type": "peerkit/dcs-doc/v2", "doc": id,
     "state": nonce || ChaCha20-Poly1305(membership, keys, next_seq, my Yjs client ids;
                                         aad = doc id),
     "streams": {author: CID of that stream's log head}}

pinned ``dcs/<doc>``. The state is sealed with a key only this collaborator derives, so a peer
that holds the blocks (an app node keeping them) reads nothing; the entries are encrypted with
the document's epoch keys anyway. An author's own stream head is what their stream *name*
points at, so other members fetch a stream (only the blocks they lack) while its author is
offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .. import applog
from ..applog import LogState
from ..blocks import CID, Block, decode, make_block, parse_cid, raw_block
from .crypto import Identity, Rejected
from .doc import Entry, SharedDoc, Snapshot

ROOT_TYPE = "peerkit/dcs-doc/v2"
LEGACY_TYPE = "peerkit/dcs-doc"

_entry_decoder = msgspec.msgpack.Decoder(Entry)
_snapshot_decoder = msgspec.msgpack.Decoder(Snapshot)


@dataclass
class SavedStreams:
    """What has been written of one document: each author's log (holding that author's
    entries from seq ``log_first(log)`` on) and the snapshots stored."""

    logs: dict[str, LogState] = field(default_factory=dict)
    heads: dict[str, CID] = field(default_factory=dict)
    snapshots: dict[str, CID] = field(default_factory=dict)

    def saved(self, author: str) -> int:
        """The sequence number after the last entry saved of ``author``'s stream."""
        log = self.logs.get(author)
        return 0 if log is None else log_first(log) + log.count


def log_first(log: LogState) -> int:
    """The sequence number of a stream log's first entry (in the head's summary: a log
    started from a snapshot does not begin at 0). LogError if the summary is malformed."""
    meta = log.meta
    if meta is None:
        return 0
    first = meta.get("first") if isinstance(meta, dict) else None
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise applog.LogError("a stream log's summary names no valid first sequence number")
    return first


def save(doc: SharedDoc, saved: SavedStreams, key: bytes) -> tuple[list[Block], SavedStreams]:
    """The blocks that bring the stored document up to ``doc`` (the root last) and what will
    have been saved once they are stored. ``saved`` itself is left as it was: the caller keeps
    the new one only after the write succeeded."""
    blocks, after = append_streams(doc.log, saved)
    blocks += snapshot_blocks(doc.snapshots, after)
    mine = {} if doc.my_clients is None else {"clients": sorted(doc.my_clients)}
    secret = msgspec.json.encode({**doc.state(), "next_seq": doc.next_seq, **mine})
    nonce = os.urandom(12)
    blocks.append(
        make_block(
            {
                "type": ROOT_TYPE,
                "doc": doc.doc_id,
                "state": nonce + ChaCha20Poly1305(key).encrypt(nonce, secret, doc.doc_id.encode()),
                "streams": dict(after.heads),
                "snapshots": dict(after.snapshots),
            }
        )
    )
    return blocks, after


def append_streams(
    streams: dict[str, list[Entry]], saved: SavedStreams
) -> tuple[list[Block], SavedStreams]:
    """The log blocks holding the entries of ``streams`` not yet in ``saved`` (each stream a
    list from seq 0), and what will have been saved once they are stored."""
    after = SavedStreams(dict(saved.logs), dict(saved.heads), dict(saved.snapshots))
    blocks: list[Block] = []
    for author, entries in streams.items():
        if not entries:
            continue
        held_from = entries[0].seq  # entries before it are covered by a snapshot
        done = saved.saved(author)
        if done >= held_from + len(entries):
            continue
        old = saved.logs.get(author)
        meta = None
        if old is not None and done >= held_from:
            log, new_entries = old.copy(), entries[done - held_from :]
        else:  # nothing saved yet, or a snapshot took us past what was saved: a new log
            log, new_entries = LogState(), entries
            meta = {"first": held_from} if held_from else None
        new = applog.append(log, [msgspec.msgpack.encode(e) for e in new_entries], meta)
        blocks += new
        after.logs[author] = log
        after.heads[author] = new[-1].cid
    return blocks, after


def snapshot_blocks(snapshots: dict[str, Snapshot], after: SavedStreams) -> list[Block]:
    """The blocks of the snapshots not stored yet (``after.snapshots`` is brought up to date)."""
    blocks = []
    for author, snapshot in snapshots.items():
        block = raw_block(msgspec.msgpack.encode(snapshot))
        if after.snapshots.get(author) != block.cid:
            blocks.append(block)
            after.snapshots[author] = block.cid
    return blocks


def read_snapshot(data: bytes) -> Snapshot:
    """A stored snapshot (msgspec.ValidationError/DecodeError if it is not one)."""
    return _snapshot_decoder.decode(data)


def read_streams(
    heads: dict[str, Any], get: Callable[[CID], bytes], start: dict[str, int] | None = None
) -> tuple[list[Entry], SavedStreams]:
    """The entries of the stream logs ``heads`` (author -> log head CID), each from seq
    ``start[author]`` on (default: all), and what is saved."""
    saved = SavedStreams()
    entries: list[Entry] = []
    for author, head_cid in heads.items():
        log = applog.load(decode(get(head_cid)))
        saved.logs[author] = log
        saved.heads[author] = head_cid
        skip = max(0, (start or {}).get(author, 0) - log_first(log))
        entries += [_entry_decoder.decode(raw) for raw in applog.read(log, get, skip)]
    return entries, saved


# --- what a keeper holds for others (see keeper.py): nothing in it is readable to the keeper

KEPT_TYPE = "peerkit/dcs-kept/v1"
MAIL_TYPE = "peerkit/dcs-mail/v1"


def kept_root(doc_id: str, saved: SavedStreams) -> Block:
    """The root of a document's streams held for others, pinned ``dcs-kept/<doc>``."""
    return make_block(
        {
            "type": KEPT_TYPE,
            "doc": doc_id,
            "streams": dict(saved.heads),
            "snapshots": dict(saved.snapshots),
        }
    )


def mail_block(to: str, mail: list[tuple[float, bytes]]) -> Block:
    """A recipient's waiting mail (each envelope with when it was kept), pinned
    ``dcs-mail/<recipient>``."""
    return make_block({"type": MAIL_TYPE, "to": to, "mail": [[t, raw] for t, raw in mail]})


def open_state(root: Any, key: bytes) -> dict[str, Any]:
    """The sealed membership and keys of a saved document (InvalidTag: not ours)."""
    sealed = root["state"]
    state: dict[str, Any] = msgspec.json.decode(
        ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], root["doc"].encode())
    )
    return state


def restore(
    root: Any, me: Identity, key: bytes, get: Callable[[CID], bytes]
) -> tuple[SharedDoc, SavedStreams]:
    """A saved document, every stream read back through ``get`` and applied (each entry
    checked as if it came from a peer). ValueError/KeyError/InvalidTag/LogError if it is not
    one of ours."""
    if not isinstance(root, dict) or root.get("type") not in (ROOT_TYPE, LEGACY_TYPE):
        raise ValueError("not a saved document")
    state = open_state(root, key)
    doc = SharedDoc(root["doc"], me, state["owner"])
    doc.adopt(state)
    bad_snapshots = 0
    if root["type"] == LEGACY_TYPE:  # peerkit before 0.3: every entry in the root
        saved = SavedStreams()
        entries = [_entry_decoder.decode(raw) for raw in root["entries"]]
    else:
        snapshots = root.get("snapshots") or {}
        for cid in snapshots.values():  # first: each log is then read from where it ends
            try:
                doc.receive_snapshot(read_snapshot(get(cid)))
            except (Rejected, msgspec.MsgspecError):
                bad_snapshots += 1
        entries, saved = read_streams(root["streams"], get, dict(doc.applied))
        saved.snapshots = {a: parse_cid(c) for a, c in snapshots.items()}
    doc.receive_many(entries)
    doc.rejected += bad_snapshots
    doc.next_seq = max(int(state.get("next_seq", 0)), doc.applied.get(me.id, 0))
    if "clients" in state:
        doc.my_clients = {int(c) for c in state["clients"]}
    return doc, saved


def stream_entries(head: Any, get: Callable[[CID], bytes], start: int) -> list[Entry]:
    """An author's stream from a log head (fetched by its name), from entry ``start`` on."""
    log = applog.load(head)
    skip = max(0, start - log_first(log))
    return [_entry_decoder.decode(raw) for raw in applog.read(log, get, skip)]
