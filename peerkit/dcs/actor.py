"""The DCS actor: documents this peer collaborates on, live updates, invitations, catch-up.

State lives in a ``DocShelf`` owned by the node (it survives actor restarts). Updates go out on
``peerkit.dcs``; invitations and key refreshes are sealed envelopes on the recipient's own inbox
topic. When a peer connects, the actor asks it for the entries it lacks (``CatchUp``), so a peer
that was offline merges what it missed and hands over what it wrote meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..actor import Context, handler
from ..blocks import CID
from ..errors import MailboxFull, PeerkitError
from ..feed import Feed
from ..names import name_for
from . import saved
from .crypto import DcsError, Identity, NotAllowed, Rejected, open_sealed, seal
from .doc import Entry, SharedDoc, Snapshot, catch_up_page, read_invitation_state
from .keeping import KeeperRole, KeptShelf, hand_to_keepers
from .messages import (
    ApplyIncoming,
    CatchUp,
    DcsEnvelope,
    DcsUpdate,
    DocCard,
    DocRef,
    DocText,
    EditDoc,
    Entries,
    GetCard,
    Invitation,
    InviteMember,
    NewDoc,
    RevokeMember,
    ShowDoc,
    Transact,
    UseIdentity,
    inbox_topic,
)
from .saved import SavedStreams

if TYPE_CHECKING:
    from ..context import NodeContext


@dataclass
class DocShelf:
    """The documents of this peer. Owned by the extension (it survives restarts of the actor);
    only the DCS actor changes it, clients read it."""

    me: Identity | None = None
    docs: dict[str, SharedDoc] = field(default_factory=dict)
    #: envelope ids already taken (replay protection), the newest 100,000 (invitations are
    #: open writes: anyone may send them, so the set must not grow without end)
    seen_envelopes: dict[bytes, None] = field(default_factory=dict)
    #: a notice per change of each document, for local watchers (node.dcs.watch): the
    #: document itself, so that the text is built only when a watcher reads it (not once per
    #: update for every watcher, which would cost O(document) per keystroke)
    changes: Feed[str, SharedDoc] = field(default_factory=lambda: Feed(backlog=1))
    rejected: int = 0
    #: what is on disk of each document (its streams' logs)
    saved: dict[str, SavedStreams] = field(default_factory=dict)
    #: doc -> the head of my stream its name points at
    named: dict[str, CID] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    saver: asyncio.Task[None] | None = None
    namer: asyncio.Task[None] | None = None
    #: set by the running DCS actor: saves dirty documents soon
    save_soon: Callable[[], None] | None = None
    #: what this peer keeps for others (dcs.keep_for_others)
    kept: KeptShelf = field(default_factory=KeptShelf)

    def changed(self, doc: SharedDoc, *, dirty: bool = True) -> None:
        """A document changed (locally or from others): tell watchers, save it soon."""
        self.changes.put(doc.doc_id, doc)
        if dirty:
            self.dirty.add(doc.doc_id)
            if self.save_soon is not None:
                self.save_soon()


class DcsActor(KeeperRole):
    mailbox_size = 8192

    def __init__(self, shelf: DocShelf) -> None:
        self.shelf = shelf
        self.kept = shelf.kept
        self._catching_up: set[str] = set()  # peers a catch-up is running with
        self._saving = asyncio.Lock()
        self._incoming: list[tuple[Entry, str | None]] = []  # live updates not yet applied
        self._flush_queued = False

    async def on_start(self) -> None:
        self.watch_peers(self._peer_changed)
        self.shelf.save_soon = self._schedule_save
        if self.shelf.me is None:
            # By default a peer collaborates as an identity derived from its own key.
            self.shelf.me = Identity.from_seed(self.node.identity_seed)
        await self.node.subscribe(inbox_topic(self.shelf.me.id))
        await self._load()
        await self._load_kept()

    # --- persistence: each author's stream an append-only log, a root pinned "dcs/<doc>" ----

    def _sealing_key(self) -> bytes:
        assert self.shelf.me is not None
        return HKDF(
            hashes.SHA256(), 32, salt=b"peerkit/dcs/store", info=self.shelf.me.id.encode()
        ).derive(self.shelf.me.signing.private_bytes_raw())

    async def _load(self) -> None:
        if not self.node.has("storage"):
            return
        storage = self.node.storage
        for pin in await storage.pins():
            if not pin.name.startswith("dcs/"):
                continue
            if pin.name.removeprefix("dcs/") in self.shelf.docs:
                continue
            try:
                root = await storage.get(pin.root)
                doc, streams = saved.restore(
                    root,
                    self.shelf.me,  # type: ignore[arg-type]
                    self._sealing_key(),
                    storage.read_block,
                )
            except InvalidTag:  # saved by another identity of this peer: not ours to open
                self.log.debug("dcs.load_skipped", pin=pin.name)
                continue
            except (PeerkitError, ValueError, KeyError, TypeError) as exc:
                self.log.error("dcs.load_failed", pin=pin.name, error=str(exc))
                continue
            if doc.rejected:  # our own disk held entries that no longer check: say so
                self.log.error(
                    "dcs.stored_entries_rejected", doc=doc.doc_id[:8], count=doc.rejected
                )
            self.shelf.docs[doc.doc_id] = doc
            self.shelf.saved[doc.doc_id] = streams
            if root.get("type") == saved.LEGACY_TYPE:
                await self.save(doc)  # onto the logs, once
            self.shelf.changed(doc, dirty=False)

    async def save(self, doc: SharedDoc) -> None:
        """Write what is new in ``doc`` (the entries since the last save, and the root).
        A failure is raised: the caller's edit, or the next save, tells someone."""
        if not self.node.has("storage"):
            return
        async with self._saving:  # one save at a time: roots are pinned in the order written
            before = self.shelf.saved.get(doc.doc_id) or saved.SavedStreams()
            self.shelf.dirty.discard(doc.doc_id)
            blocks, after = saved.save(doc, before, self._sealing_key())
            try:
                await self.node.storage.put_blocks(blocks, pin=f"dcs/{doc.doc_id}")
            except BaseException:
                self.shelf.dirty.add(doc.doc_id)  # still to be written
                raise
            self.shelf.saved[doc.doc_id] = after
            # With all of my stream on disk, compact it if due (SNAPSHOT_AFTER): restarts and
            # late joiners then load one snapshot and the tail, not every entry. The
            # snapshot is written by the next save.
            if after.saved(doc.me.id) == doc.applied.get(doc.me.id, 0) and doc.compact():
                self.log.info("dcs.compacted", doc=doc.doc_id[:8], upto=doc.base[doc.me.id])
                self.shelf.dirty.add(doc.doc_id)
                if self.shelf.save_soon is not None:  # while stopping, on_stop's loop saves it
                    self._schedule_save()
        # (not while stopping: the stream names wait for the next start, the logs are saved)
        if self.node.has("naming") and doc.secret and self.shelf.save_soon is not None:
            self._name_streams_soon()

    def _name_streams_soon(self) -> None:
        """Point my stream names at my streams' heads, at most once a second (a name update
        is a durable write too: not one per keystroke)."""
        if self.shelf.namer is None or self.shelf.namer.done():
            self.shelf.namer = self.start_task(self._name_streams(), name="stream-names")

    async def _name_streams(self, delay: float = 1.0) -> None:
        await self.node.clock.sleep(delay)
        me = self._me().id
        for doc_id, streams in list(self.shelf.saved.items()):
            doc = self.shelf.docs.get(doc_id)
            head = streams.heads.get(me)
            if doc is None or head is None or self.shelf.named.get(doc_id) == head:
                continue
            try:
                await self.node.naming.publish(doc.stream_key(me), f"/ipfs/{head.encode()}")
            except PeerkitError as exc:  # tried again after the next save
                self.log.warning("dcs.stream_name_failed", doc=doc_id[:8], error=str(exc))
                continue
            self.shelf.named[doc_id] = head

    async def catch_up_by_names(self, doc: SharedDoc) -> int:
        """Resolve every other member's stream name, fetch the blocks of that stream's log this
        peer lacks, apply the entries it has not applied.

        The path that works when an author is offline: any peer holding the record and the
        blocks can serve them.
        """
        me = self._me().id
        applied = 0
        storage = self.node.storage
        for member in list(doc.members):
            if member == me or not doc.secret:
                continue
            name = name_for(doc.stream_key(member))
            try:
                record = await self.node.naming.resolve(name)
                if record is None:
                    continue
                cid = record.value.decode().removeprefix("/ipfs/")
                await storage.fetch(cid, timeout=30)  # only the blocks missing here
                entries = saved.stream_entries(
                    await storage.get(cid), storage.read_block, doc.applied.get(member, 0)
                )
            except (PeerkitError, msgspec.MsgspecError, KeyError, TypeError) as exc:
                self.log.debug("dcs.stream_unavailable", member=member[:8], error=str(exc))
                continue
            applied += len(self._receive_all(doc, entries))
        return applied

    # --- commands: from node.dcs (local) or, when the config allows, from other peers ----

    def _allowed(self, ctx: Context) -> None:
        if ctx.sender is not None and not self.node.config.dcs.remote_control:
            raise NotAllowed(
                "this peer does not take document commands from other peers"
                " (its peer.yaml would need dcs: {remote_control: true})"
            )

    def _me(self) -> Identity:
        if self.shelf.me is None:
            raise DcsError("no collaboration identity yet", hint="call node.dcs.use_identity()")
        return self.shelf.me

    def _doc(self, doc_id: str) -> SharedDoc:
        doc = self.shelf.docs.get(doc_id)
        if doc is None:
            raise DcsError(f"no document {doc_id[:12]} on this peer")
        return doc

    def _owned(self, doc_id: str, action: str) -> SharedDoc:
        doc = self._doc(doc_id)
        if doc.owner != self._me().id:
            raise DcsError(f"only the owner {action}")
        return doc

    async def _publish(self, doc: SharedDoc, entry: Entry | None) -> None:
        if entry is not None:
            self.shelf.changed(doc)
            await self.node.publish(DcsUpdate(entry=entry))

    def _deliver_later(self, ctx: Context, invitation: Invitation) -> Invitation:
        """A remote controller cannot deliver our envelopes: we do, in the background."""
        if ctx.sender is not None and invitation.envelopes:
            self.start_task(deliver(self.node, invitation), name="deliver")
        return invitation

    @handler(local=True)
    async def use_identity(self, msg: UseIdentity) -> DocCard:
        me = Identity(
            Ed25519PrivateKey.from_private_bytes(msg.signing),
            X25519PrivateKey.from_private_bytes(msg.box),
        )
        if self.shelf.me is None or self.shelf.me.id != me.id:
            self.shelf.me = me
            await self.node.subscribe(inbox_topic(me.id))
            await self._load()  # the documents saved under this identity
        return DocCard(id=me.id, box=me.box_public.hex())

    @handler
    async def get_card(self, msg: GetCard, ctx: Context) -> DocCard:
        self._allowed(ctx)
        me = self._me()
        return DocCard(id=me.id, box=me.box_public.hex())

    @handler
    async def new_doc(self, msg: NewDoc, ctx: Context) -> DocRef:
        self._allowed(ctx)
        me = self._me()
        doc = SharedDoc.create(me)
        self.shelf.docs[doc.doc_id] = doc
        await self._publish(doc, doc.edit(lambda d: d.meta.__setitem__("owner", me.id)))
        return DocRef(doc=doc.doc_id)

    @handler
    async def invite_member(self, msg: InviteMember, ctx: Context) -> Invitation:
        self._allowed(ctx)
        doc = self._owned(msg.doc, "invites")
        try:
            box = bytes.fromhex(msg.card.box)
            if len(box) != 32 or len(bytes.fromhex(msg.card.id)) != 32:
                raise ValueError("wrong length")
        except ValueError:
            raise DcsError(
                "a collaborator card has an `id` and a `box`, each 64 hex digits",
                hint="get one with `peerkit doc card` or node.dcs.card()",
            ) from None
        member = msg.card.id
        doc.add_member(member, box)
        await self._publish(doc, doc.edit(lambda d: d.meta.__setitem__("member:" + member, True)))
        envelopes = [make_envelope("invite", doc, member, box)]
        envelopes += self._refreshes(doc, skip={member})
        return self._deliver_later(ctx, Invitation(envelopes=envelopes))

    def _refreshes(self, doc: SharedDoc, skip: set[str]) -> list[DcsEnvelope]:
        """The current membership and keys, sealed to every other member."""
        me = self._me().id
        return [
            make_envelope("refresh", doc, m.id, m.box)
            for m in list(doc.members.values())
            if m.id != me and m.id not in skip
        ]

    @handler
    async def edit_doc(self, msg: EditDoc, ctx: Context) -> None:
        """Apply the edit as one update, publish it, and answer once it is stored: an edit
        that was answered is on disk (a failure to store is this request's error)."""
        self._allowed(ctx)
        doc = self._doc(msg.doc)
        patches = [(p[0], p[1], p[2]) for p in msg.patches]
        if msg.delete or msg.text:
            patches.insert(0, (msg.index, msg.delete, msg.text))
        entry = doc.edit_text(patches)
        if entry is None:
            return
        self.shelf.changed(doc)
        await self.node.publish(DcsUpdate(entry=entry))
        await self.save(doc)

    @handler(local=True)
    async def transact(self, msg: Transact) -> None:
        """A change to the document's shared types, from node.dcs.transact (answered once
        stored, like an edit)."""
        doc = self._doc(msg.doc)
        entry = doc.transact(msg.change)
        if entry is None:
            return
        self.shelf.changed(doc)
        await self.node.publish(DcsUpdate(entry=entry))
        await self.save(doc)

    @handler
    async def show_doc(self, msg: ShowDoc, ctx: Context) -> DocText:
        self._allowed(ctx)
        doc = self._doc(msg.doc)
        return DocText(
            text=doc.content(),
            epoch=doc.epoch,
            members=sorted(doc.members),
            revoked=sorted(doc.cut),
        )

    @handler
    async def revoke_member(self, msg: RevokeMember, ctx: Context) -> Invitation:
        """Write the deletion, start a new key epoch, send the new keys to the others only."""
        self._allowed(ctx)
        doc = self._owned(msg.doc, "revokes")
        await self._publish(doc, doc.edit(lambda d: d.meta.pop("member:" + msg.member, None)))
        doc.revoke(msg.member)
        self.shelf.changed(doc)
        return self._deliver_later(ctx, Invitation(envelopes=self._refreshes(doc, skip=set())))

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if not connected:
            return
        if self.shelf.docs or self.kept.docs.docs:
            self._catch_up_soon(peer)
        if self.shelf.me is not None:  # mail a keeper there may hold for us
            self.start_task(self._collect_from(peer), name="collect-mail")

    def _catch_up_soon(self, peer: str) -> None:
        if peer in self._catching_up:
            return
        self._catching_up.add(peer)
        task = self.start_task(self._catch_up_from(peer), name="catch-up")
        task.add_done_callback(lambda _: self._catching_up.discard(peer))

    async def _catch_up_from(self, peer: str) -> None:
        await self._catch_up_kept(peer)
        for doc in list(self.shelf.docs.values()):
            while True:  # page by page: a reply holds at most CATCH_UP_BYTES of entries
                try:
                    reply: Entries = await self.node.request(
                        peer, CatchUp(doc=doc.doc_id, have=dict(doc.applied)), timeout=30
                    )
                except PeerkitError as exc:
                    self.log.debug("dcs.catch_up_failed", remote=peer[-8:], error=str(exc))
                    break
                snapshots = self._receive_snapshots(doc, reply.snapshots)
                fresh = self._receive_all(doc, reply.entries)
                # Pass on a gap we filled: peers that cannot reach the author hear it from us.
                # A long history (a late join, a long absence) is not re-gossiped: it would
                # flood every member with what they have; they catch up from us on connect.
                if len(fresh) <= RELAY_AT_MOST:
                    for entry in fresh:
                        await self.node.publish(DcsUpdate(entry=entry))
                if not reply.more or not (fresh or snapshots):
                    break

    def _receive_snapshots(self, doc: SharedDoc, snapshots: list[Snapshot]) -> int:
        taken = 0
        for snapshot in snapshots:
            try:
                taken += doc.receive_snapshot(snapshot)
            except Rejected as exc:
                self.shelf.rejected += 1
                self.log.info("dcs.snapshot_rejected", doc=doc.doc_id[:8], error=str(exc))
        if taken:
            self.shelf.changed(doc)
        return taken

    def _receive_all(self, doc: SharedDoc, entries: list[Entry]) -> list[Entry]:
        if len(entries) > 1:  # a page of history: chained runs cost one signature each
            applied = doc.receive_many(entries)
            if doc.rejected:
                self.shelf.rejected += doc.rejected
                self.log.info("dcs.updates_rejected", doc=doc.doc_id[:8], count=doc.rejected)
            if applied:
                self.shelf.changed(doc)
            return applied
        applied = []
        for entry in entries:
            try:
                applied += doc.receive(entry)
            except Rejected as exc:
                self.shelf.rejected += 1
                self.log.info(
                    "dcs.update_rejected",
                    doc=doc.doc_id[:8],
                    author=entry.author[:8],
                    error=str(exc),
                )
        if applied:
            self.shelf.changed(doc)
        return applied

    def _schedule_save(self) -> None:
        """Save changed documents soon (one block write per burst of updates, not per update)."""
        if self.shelf.saver is None or self.shelf.saver.done():
            self.shelf.saver = self.start_task(self._save_dirty(), name="save")

    async def _save_dirty(self, delay: float = 0.2) -> None:
        await asyncio.sleep(delay)
        await self._save_kept()
        while self.shelf.dirty:
            doc_id = self.shelf.dirty.pop()
            doc = self.shelf.docs.get(doc_id)
            if doc is not None:
                try:
                    await self.save(doc)
                except PeerkitError as exc:  # kept dirty: the next change or stop retries
                    self.log.error("dcs.save_failed", doc=doc_id[:8], error=str(exc))
                    return

    async def on_stop(self) -> None:
        self._apply_incoming()  # what was received is kept
        self.shelf.save_soon = None
        # The storage actor stops after us (reverse start order): flush what is unsaved (the
        # pending save task was cancelled with the other background tasks before on_stop).
        await self._save_dirty(delay=0)

    @handler
    async def update(self, msg: DcsUpdate, ctx: Context) -> None:
        """Live updates are applied in micro-batches: those already queued in the mailbox are
        taken together when the ApplyIncoming this one queues behind them comes up (no
        waiting: an update alone is applied at once), so a run of one author's chained
        entries costs one signature check."""
        doc = self.shelf.docs.get(msg.entry.doc)
        if doc is None:
            kept = self.kept.docs.get(msg.entry.doc)
            if kept is not None:  # a document kept for others: held, never opened
                self._keep_entries(kept, [msg.entry])
            return
        if ctx.sender == self.node.peer_id and msg.entry.author == doc.me.id:
            return
        self._incoming.append((msg.entry, ctx.sender))
        if len(self._incoming) >= MAX_MICRO_BATCH:
            self._apply_incoming()
        elif not self._flush_queued:
            if self.ref is None:  # called alone, as in a unit test: no mailbox to queue in
                self._apply_incoming()
                return
            try:
                self.ref.tell_nowait(ApplyIncoming())
                self._flush_queued = True
            except MailboxFull:
                self._apply_incoming()

    @handler(local=True)
    async def apply_incoming(self, msg: ApplyIncoming) -> None:
        self._flush_queued = False
        self._apply_incoming()

    def _apply_incoming(self) -> None:
        batch, self._incoming = self._incoming, []
        by_doc: dict[str, list[tuple[Entry, str | None]]] = {}
        for entry, sender in batch:
            by_doc.setdefault(entry.doc, []).append((entry, sender))
        for doc_id, items in by_doc.items():
            doc = self.shelf.docs.get(doc_id)
            if doc is None:
                continue
            before = sum(len(q) for q in doc.pending.values())
            self._receive_all(doc, [entry for entry, _ in items])
            if sum(len(q) for q in doc.pending.values()) > before:
                # a gap: ask the senders for what is missing (in the background, once each)
                for sender in {s for _, s in items if s}:
                    self._catch_up_soon(sender)

    @handler
    async def catch_up(self, msg: CatchUp) -> Entries:
        """What the asker lacks of a document we are a member of, or keep for others."""
        holder = self.shelf.docs.get(msg.doc) or self.kept.docs.get(msg.doc)
        if holder is None:
            return Entries(entries=[])
        snapshots, entries, more = catch_up_page(holder, msg.have, CATCH_UP_BYTES)
        return Entries(entries=entries, snapshots=snapshots, more=more)

    @handler(open_write=True)  # anyone may invite us: charged to the sender's quota
    async def envelope(self, msg: DcsEnvelope, ctx: Context) -> None:
        self._take_envelope(msg)

    def _take_envelope(self, msg: DcsEnvelope) -> None:
        """Open an invitation or key refresh sent to us (live, or collected from a keeper)."""
        me = self.shelf.me
        if me is None or msg.to != me.id or msg.envelope_id in self.shelf.seen_envelopes:
            return  # someone else's, or a replay: nothing changes
        try:
            plain = open_sealed(me, msg.sender, _context(msg), msg.sealed)
            state = read_invitation_state(plain)
            if state["doc"] != msg.doc:
                raise Rejected("envelope names another document")
            # Only a document's owner invites and refreshes keys (invite_member and revoke
            # are owner-only), and a document's owner never changes: anything else would let
            # a member rewrite the owner, the keys and the members of everyone's copy.
            if msg.sender != state["owner"]:
                raise Rejected(f"{msg.kind} from someone who is not the document's owner")
            doc = self.shelf.docs.get(msg.doc)
            if doc is None:
                if msg.kind == "refresh":
                    raise Rejected("key refresh for a document this peer does not hold")
                doc = SharedDoc(msg.doc, me, state["owner"])
            elif msg.sender != doc.owner:
                raise Rejected(f"{msg.kind} from someone who is not the document's owner")
            doc.adopt(state)
            self.shelf.docs[msg.doc] = doc  # only once accepted: a refused one leaves nothing
        except Rejected as exc:
            self.shelf.rejected += 1
            self.log.warning("dcs.envelope_rejected", kind=msg.kind, error=str(exc))
            return
        self.shelf.changed(doc)
        seen = self.shelf.seen_envelopes
        seen[msg.envelope_id] = None
        if len(seen) > MAX_SEEN_ENVELOPES:
            del seen[next(iter(seen))]
        self.log.info(
            "dcs.joined" if msg.kind == "invite" else "dcs.keys_refreshed",
            doc=msg.doc[:8],
            epoch=doc.epoch,
        )
        # Catching up waits on other peers: in the background, not holding the mailbox.
        self.start_task(self._join_catch_up(doc), name="join-catch-up")

    async def _join_catch_up(self, doc: SharedDoc) -> None:
        for peer in self.node.peers():
            await self._catch_up_from(peer)
        await self.catch_up_by_names(doc)


MAX_SEEN_ENVELOPES = 100_000
#: live updates applied together at most
MAX_MICRO_BATCH = 512
#: a catch-up that brought more entries than this is not passed on over pubsub
RELAY_AT_MOST = 64
#: entries per catch-up reply, in bytes (well inside the frame limit; the asker pages)
CATCH_UP_BYTES = 1024 * 1024


def _context(msg: DcsEnvelope) -> bytes:
    return f"{msg.kind}\x00{msg.doc}\x00{msg.to}".encode()


async def deliver(node: NodeContext, invitation: Invitation, *, invite_wait: float = 10.0) -> None:
    """Publish each envelope on its recipient's inbox topic. Gossip reaches only subscribers
    we know of, so an invitation first gives its invitee up to ``invite_wait`` seconds to be
    seen subscribed (it is published anyway: the mesh may still carry it)."""
    for env in invitation.envelopes:
        topic = inbox_topic(env.to)
        # Keepers among our peers hold it until the recipient appears (and pass it on at
        # once if the recipient is connected to them): then there is nobody to wait for.
        if await hand_to_keepers(node, env):
            await node.publish(env, topic=topic)
            continue
        if env.kind == "invite":
            try:
                await node.wait_for_subscribers(topic, 1, timeout=invite_wait)
            except PeerkitError:
                pass
        await node.publish(env, topic=topic)


def make_envelope(kind: str, doc: SharedDoc, to: str, box: bytes) -> DcsEnvelope:
    envelope_id = os.urandom(16)
    draft = DcsEnvelope(
        kind=kind, envelope_id=envelope_id, doc=doc.doc_id, to=to, sender=doc.me.id, sealed=b""
    )
    sealed = seal(doc.me, box, _context(draft), json.dumps(doc.state()).encode())
    return DcsEnvelope(
        kind=kind, envelope_id=envelope_id, doc=doc.doc_id, to=to, sender=doc.me.id, sealed=sealed
    )


__all__ = ["DcsActor", "DcsError", "DocShelf", "deliver", "make_envelope"]
