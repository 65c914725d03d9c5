"""Keeping for others (store and forward), pure core: sealed mail and encrypted streams held
for members who are offline or reachable only through this peer.

A *keeper* (an app node, a rendezvous point: ``dcs.keep_for_others`` in peer.yaml) holds

- a bounded **mailbox per recipient** of sealed envelopes (invitations, key refreshes). An
  envelope is kept only if its sender's signature verifies; it is handed over whenever the
  recipient proves who they are (a collection request signed with their key), and kept until
  it expires: a hand-over that never arrives (the connection drops) loses nothing, and the
  recipient ignores what it has already taken (envelope ids);
- the encrypted, signed **streams of the documents named in that mail**, served to whoever
  asks like a member serves them, so a member who comes back finds what was written while
  they were away even if every author is offline.

A keeper can check signatures and hash chains, not membership and not content: it holds the
document keys of nothing, so nothing it keeps is readable to it. Everything is bounded (mail
per recipient, recipients, documents, bytes per document); the newest mail wins.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .. import domains
from .crypto import Rejected, verify
from .doc import Entry, Snapshot
from .messages import DcsEnvelope

#: envelopes kept per recipient (the newest win: invitations are rare, refreshes supersede)
MAIL_PER_MEMBER = 64
#: bytes of sealed envelopes kept per recipient (one stored block per mailbox)
MAIL_BYTES_PER_MEMBER = 512 * 1024
#: recipients with mail waiting (the least recently written mailbox is dropped first)
MAX_MAILBOXES = 10_000
#: how long mail waits for its recipient
MAIL_TTL = 30 * 24 * 3600.0
#: documents whose streams a keeper holds
MAX_KEPT_DOCS = 1_000
#: bytes of entries kept per document (all authors)
KEPT_BYTES_PER_DOC = 64 * 1024 * 1024
#: how far a collection request's time may be from ours (replay window)
COLLECT_SKEW = 300.0
#: what one entry costs against the quota beyond its ciphertext (header, signature, chain)
_ENTRY_OVERHEAD = 256


def envelope_context(msg: DcsEnvelope) -> bytes:
    """What an envelope's seal binds in (kind, document, recipient)."""
    return f"{msg.kind}\x00{msg.doc}\x00{msg.to}".encode()


def check_envelope(msg: DcsEnvelope) -> None:
    """Rejected unless the envelope is signed by its sender (checkable without opening it)."""
    if len(msg.sealed) < 32 + 12 + 16 + 64:
        raise Rejected("envelope too short")
    body, signature = msg.sealed[:-64], msg.sealed[-64:]
    verify(msg.sender, signature, domains.DCS_ENVELOPE + envelope_context(msg) + body)


def collect_bytes(to: str, keeper: str, at: int) -> bytes:
    """What a recipient signs to collect their mail from ``keeper`` (a peer id) at ``at``."""
    return domains.DCS_COLLECT + f"{to}\x00{keeper}\x00{at}".encode()


@dataclass
class Mailboxes:
    """Sealed envelopes waiting for their recipients."""

    boxes: OrderedDict[str, list[tuple[float, DcsEnvelope]]] = field(default_factory=OrderedDict)

    def keep(self, msg: DcsEnvelope, now: float) -> bool:
        """Keep a signed envelope for ``msg.to``; False if it was already here."""
        check_envelope(msg)
        box = self.boxes.pop(msg.to, [])
        if any(env.envelope_id == msg.envelope_id for _, env in box):
            self.boxes[msg.to] = box
            return False
        box = [(t, env) for t, env in box if now - t < MAIL_TTL][-(MAIL_PER_MEMBER - 1) :]
        box.append((now, msg))
        while sum(len(env.sealed) for _, env in box) > MAIL_BYTES_PER_MEMBER:
            box.pop(0)  # the newest win
        self.boxes[msg.to] = box  # most recently written last
        while len(self.boxes) > MAX_MAILBOXES:
            self.boxes.popitem(last=False)
        return True

    def collect(
        self, to: str, keeper: str, at: int, signature: bytes, now: float
    ) -> list[DcsEnvelope]:
        """``to``'s mail, if the request is signed by ``to`` recently (it stays until it
        expires: the recipient drops duplicates by envelope id)."""
        if abs(now - at) > COLLECT_SKEW:
            raise Rejected("the collection request is too old or from the future (clock?)")
        verify(to, signature, collect_bytes(to, keeper, at))
        return [env for t, env in self.boxes.get(to, []) if now - t < MAIL_TTL]

    def waiting(self, to: str) -> list[DcsEnvelope]:
        return [env for _, env in self.boxes.get(to, [])]


@dataclass
class KeptDoc:
    """One document's streams as a keeper holds them: per author, their newest snapshot (if
    they compacted) and their entries from there on, in order, each run checked (chain and
    its tip's signature)."""

    doc: str
    streams: dict[str, list[Entry]] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    size: int = 0

    def _base(self, author: str) -> int:
        snapshot = self.snapshots.get(author)
        return snapshot.upto if snapshot is not None else 0

    def have(self) -> dict[str, int]:
        authors = self.streams.keys() | self.snapshots.keys()
        return {a: self._base(a) + len(self.streams.get(a, [])) for a in authors}

    def receive_snapshot(self, snapshot: Snapshot) -> bool:
        """Keep an author's snapshot newer than what is held (the entries it covers go)."""
        author = snapshot.author
        base = self._base(author)
        if snapshot.doc != self.doc or snapshot.upto <= base:
            return False
        stream = self.streams.get(author, [])
        covered = snapshot.upto - base  # how many of the held entries it covers
        if covered <= len(stream):
            if stream[covered - 1].link() != snapshot.tip:
                return False  # does not end at the entries held: the author forked
            keep = stream[covered:]
        else:
            keep = []
        freed = sum(_cost(e.ciphertext) for e in stream[: len(stream) - len(keep)])
        old = self.snapshots.get(author)
        growth = _cost(snapshot.ciphertext) - freed - (_cost(old.ciphertext) if old else 0)
        if self.size + growth > KEPT_BYTES_PER_DOC:
            return False
        try:
            verify(author, snapshot.signature, snapshot.signed_bytes())
        except Rejected:
            return False
        self.snapshots[author] = snapshot
        self.streams[author] = keep
        self.size += growth
        return True

    def receive(self, entries: list[Entry]) -> list[Entry]:
        """Keep what continues a stream and checks; returns the entries kept. What does not
        fit (a gap, a fork, a bad signature, the quota) is left out: a later delivery or
        catch-up fills it."""
        kept: list[Entry] = []
        by_author: dict[str, list[Entry]] = {}
        for entry in entries:
            if entry.doc == self.doc:
                by_author.setdefault(entry.author, []).append(entry)
        for author, mine in by_author.items():
            stream = self.streams.get(author, [])
            snapshot = self.snapshots.get(author)
            if stream:
                next_seq, tip = stream[-1].seq + 1, stream[-1].link()
            elif snapshot is not None:
                next_seq, tip = snapshot.upto, snapshot.tip
            else:
                next_seq, tip = 0, b""
            for segment in _segments(next_seq, tip, sorted(mine, key=lambda e: e.seq)):
                cost = sum(_cost(e.ciphertext) for e in segment)
                if self.size + cost > KEPT_BYTES_PER_DOC:
                    break
                try:  # the chain binds every entry of the segment into its tip's signature
                    verify(author, segment[-1].signature, segment[-1].signed_bytes())
                except Rejected:
                    break
                stream = self.streams.setdefault(author, stream)
                stream.extend(segment)
                self.size += cost
                kept += segment
        return kept

    def authors(self) -> set[str]:
        return self.streams.keys() | self.snapshots.keys()

    def stream_after(self, author: str, have: int) -> tuple[Snapshot | None, list[Entry]]:
        """What someone holding ``have`` entries of ``author``'s stream lacks."""
        base = self._base(author)
        held = self.streams.get(author, [])
        if max(0, have) < base:
            return self.snapshots[author], held
        return None, held[max(0, have) - base :]


def _cost(ciphertext: bytes) -> int:
    return len(ciphertext) + _ENTRY_OVERHEAD


def _segments(next_seq: int, tip: bytes, entries: list[Entry]) -> list[list[Entry]]:
    """``entries`` (sorted) that continue a stream at ``next_seq`` whose last link is ``tip``,
    cut where the chain starts afresh (an entry written before chains existed): each
    segment's tip signature covers the segment."""
    segments: list[list[Entry]] = []
    for entry in entries:
        if entry.seq < next_seq:
            continue  # already kept
        if entry.seq != next_seq:
            break  # a gap: wait for it
        if entry.prev:
            if entry.prev != tip:
                break  # a fork, or a chain to something we do not hold
            if not segments:
                segments.append([])
            segments[-1].append(entry)
        else:  # seq 0, or an unchained entry: it starts a segment of its own
            segments.append([entry])
        next_seq, tip = entry.seq + 1, entry.link()
    return segments


@dataclass
class KeptDocs:
    """The documents a keeper holds streams of (those named in mail it kept)."""

    docs: OrderedDict[str, KeptDoc] = field(default_factory=OrderedDict)

    def keep(self, doc_id: str) -> KeptDoc | None:
        """Start keeping ``doc_id`` (None if the keeper is full)."""
        kept = self.docs.get(doc_id)
        if kept is None:
            if len(self.docs) >= MAX_KEPT_DOCS:
                return None
            kept = self.docs[doc_id] = KeptDoc(doc_id)
        return kept

    def get(self, doc_id: str) -> KeptDoc | None:
        return self.docs.get(doc_id)
