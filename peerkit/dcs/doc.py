"""A shared document (pure core): pycrdt state, members, key epochs, and per-author streams.

Every change is a Yjs v1 update (pycrdt is Yrs), encrypted with the document's current epoch
key (ChaCha20-Poly1305; document id, author, epoch and sequence bound in as associated data)
and signed by its author. Each author's updates form that author's *dedicated change stream*:
sequence numbers 0, 1, 2... A reader accepts an entry only if it authenticates, comes from a
member, uses an epoch key the reader holds, is not a replay (each (author, seq) once), and --
for a revoked member -- was written before the revocation cut. Entries are applied per stream in
order; an entry ahead of a gap waits for the gap to fill. pycrdt can panic on bad input
(``PanicException`` derives from BaseException): that boundary catches it and rejects the
update, leaving the document unchanged.

Text positions in this API are Python string indices (code points); pycrdt counts UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .. import domains
from . import yjs
from .crypto import UPDATE_DOMAIN, DcsError, Identity, Rejected, verify

if TYPE_CHECKING:
    from pycrdt import Doc, Map, Text


# pycrdt (~3 MB resident) is imported where a document is first built or read: a peer that
# never opens a shared document does not load it.
def _new_crdt() -> Doc:
    from pycrdt import Doc

    return Doc()


#: the largest update (ciphertext) an entry may carry: an entry must fit an append-only log
#: entry (peerkit.applog.MAX_ENTRY, 256 KiB) with its header. Bigger edits are refused before
#: they change anything ("split it").
MAX_UPDATE = 192 * 1024
#: the largest snapshot (ciphertext): it is stored as one block and sent in one reply
MAX_SNAPSHOT = 768 * 1024
#: an author compacts their stream once this many of their entries are past their last
#: snapshot, and at least a quarter of what it covers (so compacting costs O(1) per entry)
SNAPSHOT_AFTER = 1000
#: the most entries of a run merged into one Yjs update before applying (measured on the
#: automerge-paper trace: 1.28x raw pycrdt at 64, 0.98x at 512, where merging costs more)
MERGE_AT_MOST = 64
#: what one edit operation may add to an update beyond the text it inserts (Yjs item headers)
_OP_OVERHEAD = 48


# gc=False (Entry, Snapshot): only text, bytes and numbers inside, so no reference cycle can
# pass through one; a document's log holds one per edit, which the collector then need not walk
# (the automerge-paper trace applied 0.64 -> 0.72-0.75x raw pycrdt, catch-up pages).
class Entry(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One encrypted, signed update in an author's stream (the wire and storage form).

    ``prev`` chains the stream: the SHA-256 of the previous entry's signed bytes and signature
    (empty for an author's first entry, and in entries written before the chain). Every entry
    is signed (it is the newest when sent), but a reader applying a run of one author's entries
    checks the chain and only the last signature: the chain binds every earlier entry, its
    signature included, into it (so a relay cannot swap a signature in a run it passes on).
    """

    doc: str
    author: str
    epoch: int
    seq: int
    nonce: bytes
    ciphertext: bytes
    signature: bytes
    prev: Annotated[bytes, msgspec.Meta(max_length=32)] = b""

    def aad(self) -> bytes:
        return f"{self.doc}\x00{self.author}\x00{self.epoch}\x00{self.seq}".encode()

    def signed_bytes(self) -> bytes:
        return UPDATE_DOMAIN + self.aad() + self.nonce + self.ciphertext + self.prev

    def link(self) -> bytes:
        """What the next entry of this stream carries as ``prev``."""
        return hashlib.sha256(self.signed_bytes() + self.signature).digest()


class Snapshot(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An author's own stream compacted: their entries ``0..upto-1`` merged into one Yjs
    update, encrypted with an epoch key and signed by that author.

    Only an author compacts their own stream (it holds only their updates, under their
    signature), so no member can forge another's content. ``tip`` is the chain link of entry
    ``upto - 1``: the author's next entries chain on from it. A reader who lacks the early
    entries (a late joiner, a restart) applies the snapshot and then the tail.
    """

    doc: str
    author: str
    epoch: int
    upto: Annotated[int, msgspec.Meta(ge=1)]
    nonce: bytes
    ciphertext: Annotated[bytes, msgspec.Meta(max_length=MAX_SNAPSHOT)]
    tip: Annotated[bytes, msgspec.Meta(max_length=32)]
    signature: bytes

    def aad(self) -> bytes:
        return f"snapshot\x00{self.doc}\x00{self.author}\x00{self.epoch}\x00{self.upto}".encode()

    def signed_bytes(self) -> bytes:
        return domains.DCS_SNAPSHOT + self.aad() + self.nonce + self.ciphertext + self.tip


@dataclass
class Member:
    id: str
    box: bytes  # X25519 public key, for sealed envelopes


@dataclass
class SharedDoc:
    doc_id: str
    me: Identity
    owner: str
    members: dict[str, Member] = field(default_factory=dict)
    epoch_keys: dict[int, bytes] = field(default_factory=dict)
    epoch: int = 0
    #: revoked member id -> the last of their sequence numbers still accepted
    cut: dict[str, int] = field(default_factory=dict)
    crdt: Doc = field(default_factory=_new_crdt)
    applied: dict[str, int] = field(default_factory=dict)  # author -> next seq to apply
    pending: dict[str, dict[int, Entry]] = field(default_factory=dict)
    #: author -> accepted entries held, from seq ``base[author]`` on (those before it are
    #: covered by the author's snapshot)
    log: dict[str, list[Entry]] = field(default_factory=dict)
    base: dict[str, int] = field(default_factory=dict)
    #: author -> their newest snapshot this peer holds
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    next_seq: int = 0
    #: the Yjs client ids my entries wrote under (one per session; pycrdt picks a new id
    #: each time the document is built); None: not known, compaction works them out
    my_clients: set[int] | None = None
    #: the document secret: every member derives every member's stream name from it
    secret: bytes = b""
    #: entries the last receive_many rejected
    rejected: int = 0
    #: whether the text is all ASCII (None: not known since the last remote change). pycrdt
    #: indexes text by UTF-8 byte; for ASCII text that is the code-point index, so an edit
    #: costs O(edit), not O(document)
    _ascii: bool | None = None
    _ciphers: dict[int, ChaCha20Poly1305] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, me: Identity, doc_id: str | None = None) -> SharedDoc:
        doc = cls(doc_id or os.urandom(16).hex(), me, me.id)
        doc.secret = os.urandom(32)
        doc.my_clients = set()
        doc.members[me.id] = Member(me.id, me.box_public)
        doc.epoch_keys[0] = ChaCha20Poly1305.generate_key()
        return doc

    # --- content ------------------------------------------------------------------------

    @property
    def text(self) -> Text:
        from pycrdt import Text

        return self.crdt.get("text", type=Text)

    @property
    def meta(self) -> Map:
        from pycrdt import Map

        return self.crdt.get("meta", type=Map)

    def content(self) -> str:
        return str(self.text)

    # --- writing ------------------------------------------------------------------------

    def edit(self, change: Callable[[SharedDoc], None]) -> Entry | None:
        """Apply a local change and return it as this author's next sealed entry."""
        if self.me.id not in self.members:
            raise Rejected("you are not a member of this document any more")
        # One transaction, its update taken from the transaction itself: O(the change), where
        # diffing against a state vector would scan the whole document on every edit.
        updates: list[bytes] = []
        subscription = self.crdt.observe(lambda event: updates.append(event.update))
        try:
            with self.crdt.transaction():
                change(self)
        finally:
            self.crdt.unobserve(subscription)
        update = b"".join(updates[:1])
        if not update or update == b"\x00\x00":
            return None
        return self._seal(update)

    def transact(self, change: Callable[[Doc], None]) -> Entry | None:
        """Run ``change(crdt)`` on the document's pycrdt ``Doc`` (its Map, Array, Text and XML
        types) as one transaction: one update, one entry. If ``change`` raises, the document
        is rebuilt from its accepted log (Yjs has no rollback) and DcsError is raised."""
        try:
            entry = self.edit(lambda d: change(d.crdt))
        except DcsError:
            raise
        except Exception as exc:
            self._rebuild()
            raise DcsError(f"the change failed and was undone: {exc!r}") from None
        self._ascii = None  # the change may have written text
        return entry

    def insert(self, index: int, text: str) -> Entry | None:
        """Insert at a code-point index."""
        return self.edit_text([(index, 0, text)])

    def delete(self, index: int, length: int) -> Entry | None:
        """Delete ``length`` code points from ``index``."""
        return self.edit_text([(index, length, "")])

    def edit_text(self, patches: list[tuple[int, int, str]]) -> Entry | None:
        """Apply ``(index, deleted, inserted)`` patches in order (code points, each on the
        text the previous one left) as **one** update: one entry, one signature, one message,
        however many keystrokes (what an editor sends per burst of typing).

        DcsError, with nothing changed, if a patch runs outside the text or the update would be
        larger than MAX_UPDATE.
        """
        length = self._length()
        size = 0
        for index, deleted, inserted in patches:
            if index < 0 or deleted < 0 or index + deleted > length:
                raise DcsError(
                    f"patch ({index}, {deleted}) runs outside the text (0..{length} characters)"
                )
            length += len(inserted) - deleted
            size += len(inserted.encode()) + _OP_OVERHEAD
        if size > MAX_UPDATE:
            raise DcsError(
                f"this edit would be a {size}-byte update (at most {MAX_UPDATE})",
                hint="split it into several edits",
            )

        def change(d: SharedDoc) -> None:
            text = d.text
            ascii_text = d._is_ascii()
            current = None if ascii_text else str(text)
            for index, deleted, inserted in patches:
                if ascii_text and inserted.isascii():
                    start, end = index, index + deleted  # ASCII: bytes are code points
                else:
                    if current is None:
                        current = str(text)
                    ascii_text = False
                    start = len(current[:index].encode())
                    end = start + len(current[index : index + deleted].encode())
                    current = current[:index] + inserted + current[index + deleted :]
                if end > start:
                    del text[start:end]
                if inserted:
                    text.insert(start, inserted)
            d._ascii = ascii_text

        return self.edit(change)

    def _is_ascii(self) -> bool:
        if self._ascii is None:
            self._ascii = str(self.text).isascii()
        return self._ascii

    def _length(self) -> int:
        """The text's length in code points (O(1) for ASCII text)."""
        return len(self.text) if self._is_ascii() else len(str(self.text))

    def _seal(self, update: bytes) -> Entry:
        seq = self.next_seq
        self.next_seq += 1
        if self.my_clients is not None:
            self.my_clients.add(self.crdt.client_id)
        nonce = os.urandom(12)
        prev = (self._tip(self.me.id) or b"") if self.applied.get(self.me.id, 0) == seq else b""
        unsigned = Entry(self.doc_id, self.me.id, self.epoch, seq, nonce, b"", b"")
        ct = self._cipher(self.epoch).encrypt(nonce, update, unsigned.aad())
        body = Entry(self.doc_id, self.me.id, self.epoch, seq, nonce, ct, b"", prev)
        entry = msgspec.structs.replace(body, signature=self.me.sign(body.signed_bytes()))
        self.log.setdefault(self.me.id, []).append(entry)
        self.applied[self.me.id] = seq + 1
        return entry

    # --- reading ------------------------------------------------------------------------

    def receive(self, entry: Entry) -> list[Entry]:
        """Check an entry and apply it (and any entries it unblocks); returns those applied.

        Raises Rejected for anything that fails a check; the document is then unchanged.
        """
        if entry.doc == self.doc_id and (
            entry.seq < self.base.get(entry.author, 0)  # covered by a snapshot we took
            or self._held(entry.author, entry.seq) == entry
        ):
            return []  # a duplicate of what was verified and applied: not an error, no work
        waiting = self.pending.get(entry.author, {}).get(entry.seq)
        if waiting is not None and waiting == entry:
            return []
        self._check(entry)
        if entry.seq < self.applied.get(entry.author, 0):
            return []  # already applied: a duplicate delivery is not an error
        self.pending.setdefault(entry.author, {})[entry.seq] = entry
        return self._drain(entry.author)

    def _drain(self, author: str) -> list[Entry]:
        """Apply the author's waiting entries that now continue the stream."""
        done = []
        queue = self.pending.get(author, {})
        while (nxt := queue.get(self.applied.get(author, 0))) is not None:
            del queue[nxt.seq]
            self._check_link(nxt)
            self._apply(nxt)
            done.append(nxt)
        return done

    def _check_link(self, entry: Entry) -> None:
        """A chained entry must name the entry before it (an author cannot fork the stream)."""
        if not entry.prev:
            return
        if self.applied.get(entry.author, 0) != entry.seq or self._tip(entry.author) != entry.prev:
            raise Rejected("the entry does not continue its author's stream (chain broken)")

    def receive_many(self, entries: list[Entry]) -> list[Entry]:
        """Check and apply many entries (a catch-up page, a stream read back): per author, a
        run that continues the stream and is hash-chained costs one signature check, at its
        end. Anything else (gaps, unchained entries, a run that fails) goes entry by entry, so
        the errors are exact. Returns the entries applied; Rejected entries are skipped and
        counted in ``rejected``."""
        applied: list[Entry] = []
        self.rejected = 0
        by_author: dict[str, list[Entry]] = {}
        for entry in entries:
            by_author.setdefault(entry.author, []).append(entry)
        for author, mine in by_author.items():
            mine.sort(key=lambda e: e.seq)
            run = self._chained_run(author, mine)
            taken: list[Entry] = []
            if run:
                try:
                    verify(author, run[-1].signature, run[-1].signed_bytes())
                    for entry in run:
                        self._check(entry, signature=False)
                except Rejected:
                    pass  # the run goes entry by entry, for exact errors
                else:
                    taken = self._apply_run(run)
            applied += taken
            done = {id(e) for e in taken}
            for entry in mine:
                if id(entry) in done:
                    continue
                try:
                    applied += self.receive(entry)
                except Rejected:
                    self.rejected += 1
        return applied

    def _chained_run(self, author: str, entries: list[Entry]) -> list[Entry]:
        """The longest prefix of ``entries`` (sorted) that continues the stream from the next
        sequence to apply, each entry chained to the one before it."""
        start = self.applied.get(author, 0)
        tip = self._tip(author) or b""
        run: list[Entry] = []
        for entry in entries:
            if entry.seq < start or entry.doc != self.doc_id:
                continue
            if entry.seq != start + len(run):
                break
            expected = run[-1].link() if run else tip
            if entry.seq > 0 and (not entry.prev or entry.prev != expected):
                break
            if entry.seq == 0 and entry.prev:
                break
            run.append(entry)
        return run

    def _apply_run(self, run: list[Entry]) -> list[Entry]:
        """Apply a checked run (it continues its author's stream) as merged Yjs updates of up
        to MERGE_AT_MOST entries: pycrdt pays its per-update cost (a transaction, its commit)
        once per group, not per entry (merging costs more than it saves past ~64). Stops at
        the first group that fails, leaving the document as the groups before it left it;
        returns the entries applied (the caller takes the rest one by one, for exact errors).
        """
        done: list[Entry] = []
        for start in range(0, len(run), MERGE_AT_MOST):
            group = run[start : start + MERGE_AT_MOST]
            try:
                updates = [self._decrypt(entry) for entry in group]
                self._apply_update(_merged(updates))
            except Rejected:
                break
            self._mine_from_elsewhere(group[0].author)
            self.log.setdefault(group[0].author, []).extend(group)
            self.applied[group[0].author] = group[-1].seq + 1
            done += group
        return done

    def _check(self, entry: Entry, *, signature: bool = True) -> None:
        if entry.doc != self.doc_id:
            raise Rejected("entry belongs to another document")
        if entry.author not in self.members and entry.author not in self.cut:
            raise Rejected(f"{entry.author[:12]} is not a member")
        cut = self.cut.get(entry.author)
        if cut is not None and entry.seq > cut:
            raise Rejected(f"{entry.author[:12]} was revoked; later writes are ignored")
        if len(entry.ciphertext) > MAX_UPDATE:
            raise Rejected("update too large")
        if signature:
            verify(entry.author, entry.signature, entry.signed_bytes())
        if entry.epoch not in self.epoch_keys:
            raise Rejected(f"no key for epoch {entry.epoch}")
        held = self._held(entry.author, entry.seq)
        if held is not None and held != entry:
            raise Rejected("a different entry with this sequence was already accepted (replay)")

    def _apply(self, entry: Entry) -> None:
        self._apply_update(self._decrypt(entry))
        self._record(entry)

    def _decrypt(self, item: Entry | Snapshot) -> bytes:
        """The Yjs update an entry or a snapshot carries (Rejected if it does not open)."""
        cipher = self._ciphers.get(item.epoch) or self._cipher(item.epoch)
        try:
            return cipher.decrypt(item.nonce, item.ciphertext, item.aad())
        except InvalidTag:
            what = "snapshot" if isinstance(item, Snapshot) else "update"
            raise Rejected(f"{what} does not decrypt (wrong key or altered)") from None

    def _cipher(self, epoch: int) -> ChaCha20Poly1305:
        """The epoch's cipher, built once (keys never change within an epoch)."""
        cipher = self._ciphers.get(epoch)
        if cipher is None:
            cipher = self._ciphers[epoch] = ChaCha20Poly1305(self.epoch_keys[epoch])
        return cipher

    def _apply_update(self, update: bytes) -> None:
        try:
            self.crdt.apply_update(update)
        except BaseException as exc:  # pycrdt's PanicException derives from BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            # A panic may have left the document half-changed: rebuild it from the accepted
            # log (rare, only for hostile input; a snapshot per update would cost O(document)).
            self._rebuild()
            raise Rejected(f"update is not a valid Yjs update: {exc}") from None
        self._ascii = None  # someone else's text: known again when next needed

    def _record(self, entry: Entry) -> None:
        self._mine_from_elsewhere(entry.author)
        self.log.setdefault(entry.author, []).append(entry)
        self.applied[entry.author] = entry.seq + 1

    def _mine_from_elsewhere(self, author: str) -> None:
        """My own entries coming back (from disk, or written on another device): which Yjs
        client ids they used is not known here any more."""
        if author == self.me.id:
            self.my_clients = None

    def _rebuild(self) -> None:
        fresh = _new_crdt()
        for snapshot in self.snapshots.values():
            fresh.apply_update(self._decrypt(snapshot))
        for entries in self.log.values():
            for e in entries:
                fresh.apply_update(self._decrypt(e))
        self.crdt = fresh

    # --- streams held, snapshots ----------------------------------------------------------

    def _held(self, author: str, seq: int) -> Entry | None:
        """The accepted entry ``seq`` of ``author``'s stream, if this peer holds it."""
        k = seq - self.base.get(author, 0)
        held = self.log.get(author, [])
        return held[k] if 0 <= k < len(held) else None

    def _tip(self, author: str) -> bytes | None:
        """The chain link the author's next entry must carry (None: nothing held)."""
        held = self.log.get(author)
        if held:
            return held[-1].link()
        snapshot = self.snapshots.get(author)
        return snapshot.tip if snapshot is not None else None

    def authors(self) -> set[str]:
        return self.log.keys() | self.snapshots.keys()

    def stream_after(self, author: str, have: int) -> tuple[Snapshot | None, list[Entry]]:
        """What someone holding ``have`` entries of ``author``'s stream lacks: the author's
        snapshot if they lack entries it covers, and the entries held from there on."""
        base = self.base.get(author, 0)
        held = self.log.get(author, [])
        have = max(0, have)
        if have < base:
            return self.snapshots[author], held
        return None, held[have - base :]

    def compact(self) -> Snapshot | None:
        """Compact my own stream (every entry of mine applied) into a snapshot, if it is due
        (SNAPSHOT_AFTER) and fits MAX_SNAPSHOT; my entries it covers are let go.

        The snapshot is what the document holds under my Yjs client ids, taken from the
        document itself (pycrdt squashes a run of keystrokes into one item there: the whole
        automerge-paper trace typed key by key compacts to ~380 KB, where merging its
        260,000 updates gives 4.5 MB and takes minutes) plus the document's deletions.
        """
        me = self.me.id
        base = self.base.get(me, 0)
        upto = self.applied.get(me, 0)
        since = upto - base
        if since < max(SNAPSHOT_AFTER, base // 4) or me not in self.members:
            return None
        held = self.log.get(me, [])
        mine = self.my_clients
        if mine is None:  # worked out once from what I wrote (a save from before 0.4)
            mine = set()
            for update in [self._decrypt(e) for e in held[:since]] + (
                [self._decrypt(self.snapshots[me])] if me in self.snapshots else []
            ):
                mine |= yjs.update_clients(update)
            self.my_clients = mine
        others = {c: n for c, n in yjs.state(self.crdt).items() if c not in mine}
        update = self.crdt.get_update(yjs.encode_state_vector(others))
        nonce = os.urandom(12)
        draft = Snapshot(self.doc_id, me, self.epoch, upto, nonce, b"", held[since - 1].link(), b"")
        ciphertext = self._cipher(self.epoch).encrypt(nonce, update, draft.aad())
        if len(ciphertext) > MAX_SNAPSHOT:
            return None  # a document this large keeps its entries (still bounded blocks)
        body = msgspec.structs.replace(draft, ciphertext=ciphertext)
        snapshot = msgspec.structs.replace(body, signature=self.me.sign(body.signed_bytes()))
        self.snapshots[me] = snapshot
        self.log[me] = held[since:]
        self.base[me] = upto
        return snapshot

    def receive_snapshot(self, snapshot: Snapshot) -> bool:
        """Take an author's snapshot: applied if it covers entries this peer lacks, kept to
        serve others if it is newer than the one held. Rejected if it fails a check; False
        if it brings nothing."""
        author = snapshot.author
        held = self.snapshots.get(author)
        if held is not None and held.upto >= snapshot.upto:
            return False
        if snapshot.doc != self.doc_id:
            raise Rejected("snapshot belongs to another document")
        if author not in self.members and author not in self.cut:
            raise Rejected(f"{author[:12]} is not a member")
        cut = self.cut.get(author)
        if cut is not None and snapshot.upto - 1 > cut:
            raise Rejected(f"{author[:12]} was revoked; a snapshot past the cut is ignored")
        verify(author, snapshot.signature, snapshot.signed_bytes())
        if snapshot.epoch not in self.epoch_keys:
            raise Rejected(f"no key for epoch {snapshot.epoch}")
        last = self._held(author, snapshot.upto - 1)
        if last is not None and last.link() != snapshot.tip:
            raise Rejected("the snapshot does not match the entries already accepted (fork)")
        applied = self.applied.get(author, 0)
        if applied < snapshot.upto:
            self._apply_update(self._decrypt(snapshot))
            self.applied[author] = snapshot.upto
        # let go of the entries it covers (held ones are the same, checked by the chain tip)
        keep_from = snapshot.upto - self.base.get(author, 0)
        self.log[author] = self.log.get(author, [])[max(0, keep_from) :]
        self.base[author] = snapshot.upto
        self.snapshots[author] = snapshot
        waiting = self.pending.get(author, {})
        for seq in [s for s in waiting if s < snapshot.upto]:
            del waiting[seq]
        if author == self.me.id:
            self.next_seq = max(self.next_seq, snapshot.upto)
        try:
            self._drain(author)
        except Rejected:
            pass  # a waiting entry that does not continue the chain: dropped by _drain
        return True

    # --- membership ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What an invitation carries (the secret parts are sealed to the invitee)."""
        return {
            "doc": self.doc_id,
            "secret": self.secret.hex(),
            "owner": self.owner,
            "epoch": self.epoch,
            "keys": {str(e): k.hex() for e, k in self.epoch_keys.items()},
            "members": {m.id: m.box.hex() for m in self.members.values()},
            "cut": dict(self.cut),
        }

    def add_member(self, member_id: str, box: bytes) -> None:
        self.members[member_id] = Member(member_id, box)

    def stream_key(self, author: str) -> Ed25519PrivateKey:
        """The key of ``author``'s stream name. Every member derives the same keys from the
        document secret, so each can find every other member's stream (the complete graph)."""
        seed = HKDF(
            hashes.SHA256(),
            32,
            salt=b"peerkit/dcs/stream-name/v1",
            info=f"{self.doc_id}\x00{author}".encode(),
        ).derive(self.secret)
        return Ed25519PrivateKey.from_private_bytes(seed)

    def revoke(self, member_id: str) -> bytes:
        """Remove a member: cut their stream at what we have, start a new epoch whose key the
        others receive. Returns the new epoch key."""
        if member_id == self.owner:
            raise Rejected("the owner cannot be revoked")
        self.members.pop(member_id, None)
        self.cut[member_id] = self.applied.get(member_id, 0) - 1
        self.epoch += 1
        self.epoch_keys[self.epoch] = ChaCha20Poly1305.generate_key()
        return self.epoch_keys[self.epoch]

    def adopt(self, state: dict[str, Any]) -> None:
        """Take membership, keys and cuts from a verified invitation or key refresh."""
        self.owner = state["owner"]
        self.secret = bytes.fromhex(state.get("secret", "")) or self.secret
        self.members = {i: Member(i, bytes.fromhex(b)) for i, b in state["members"].items()}
        for e, k in state["keys"].items():
            self.epoch_keys[int(e)] = bytes.fromhex(k)
        self._ciphers.clear()
        self.epoch = max(self.epoch, int(state["epoch"]))
        self.cut.update({k: int(v) for k, v in state["cut"].items()})


def _merged(updates: list[bytes]) -> bytes:
    """One Yjs update equivalent to ``updates`` (Rejected if any is not a valid update)."""
    if len(updates) == 1:
        return updates[0]
    from pycrdt import merge_updates

    try:
        return merge_updates(*updates)
    except BaseException as exc:  # ValueError, or pycrdt's PanicException on hostile input
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise Rejected(f"an update of the run is not a valid Yjs update: {exc}") from None


#: 32 bytes as hex: a member's id (its Ed25519 key) or sealing key, an epoch key, the secret
_Hex32 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class _InvitationState(msgspec.Struct, frozen=True):
    """The shape of :meth:`SharedDoc.state` as an invitation or key refresh carries it: what
    a sealed envelope's JSON must be before :meth:`SharedDoc.adopt` reads it. The sender is
    authenticated (the envelope is signed) but may be anyone, so nothing in it is trusted."""

    doc: Annotated[str, msgspec.Meta(max_length=256)]
    owner: _Hex32
    epoch: Annotated[int, msgspec.Meta(ge=0, le=2**31)]
    keys: dict[Annotated[str, msgspec.Meta(pattern="^[0-9]{1,10}$")], _Hex32]
    members: dict[_Hex32, _Hex32]
    cut: dict[_Hex32, Annotated[int, msgspec.Meta(ge=-1)]]  # -1: revoked before writing
    secret: _Hex32 | None = None


_invitation_decoder = msgspec.json.Decoder(_InvitationState)


def read_invitation_state(plain: bytes) -> dict[str, Any]:
    """The state a sealed invitation or key refresh carries, checked field by field (Rejected,
    naming the field, for anything else), as the dict :meth:`SharedDoc.adopt` takes."""
    try:
        state = _invitation_decoder.decode(plain)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise Rejected(f"invitation state: {exc}") from None
    if str(state.epoch) not in state.keys:
        raise Rejected(f"invitation state: no key for its epoch {state.epoch}")
    out: dict[str, Any] = msgspec.structs.asdict(state)
    if state.secret is None:
        del out["secret"]
    return out


class StreamHolder(Protocol):
    """What holds streams to serve (a member's document, a keeper's copy)."""

    def authors(self) -> set[str]: ...

    def stream_after(self, author: str, have: int) -> tuple[Snapshot | None, list[Entry]]: ...


#: what an entry or snapshot costs in a catch-up page beyond its ciphertext
_PAGE_OVERHEAD = 256


def catch_up_page(
    holder: StreamHolder, have: dict[str, int], budget: int
) -> tuple[list[Snapshot], list[Entry], bool]:
    """What someone holding ``have`` (author -> entries) lacks, at most ``budget`` bytes
    (always at least one item): snapshots, entries, and whether there is more."""
    snapshots: list[Snapshot] = []
    entries: list[Entry] = []
    for author in holder.authors():
        snapshot, tail = holder.stream_after(author, have.get(author, 0))
        for item in ([snapshot] if snapshot is not None else []) + tail:
            budget -= len(item.ciphertext) + _PAGE_OVERHEAD
            if budget < 0 and (entries or snapshots):
                return snapshots, entries, True
            if isinstance(item, Snapshot):
                snapshots.append(item)
            else:
                entries.append(item)
    return snapshots, entries, False
