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
from collections import defaultdict
from dataclasses import dataclass, field

from ..actor import Actor, Context, handler
from ..errors import PeerkitError
from .crypto import DcsError, Identity, Rejected, open_sealed, seal
from .doc import Entry, SharedDoc
from .messages import CatchUp, DcsEnvelope, DcsUpdate, Entries, inbox_topic


@dataclass
class DocShelf:
    me: Identity | None = None
    docs: dict[str, SharedDoc] = field(default_factory=dict)
    seen_envelopes: set[bytes] = field(default_factory=set)
    watchers: dict[str, set[asyncio.Queue[str]]] = field(default_factory=lambda: defaultdict(set))
    rejected: int = 0

    def changed(self, doc: SharedDoc) -> None:
        for q in list(self.watchers.get(doc.doc_id, ())):
            q.put_nowait(doc.content())


class DcsActor(Actor):
    mailbox_size = 8192

    def __init__(self, shelf: DocShelf) -> None:
        self.shelf = shelf

    async def on_start(self) -> None:
        self.node.router.peer_listeners.append(self._peer_changed)
        if self.shelf.me is not None:
            await self.node.subscribe(inbox_topic(self.shelf.me.id))

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if connected and self.shelf.docs:
            asyncio.get_running_loop().create_task(self._catch_up_from(peer))

    async def _catch_up_from(self, peer: str) -> None:
        for doc in list(self.shelf.docs.values()):
            try:
                reply: Entries = await self.node.request(
                    peer, CatchUp(doc=doc.doc_id, have=dict(doc.applied)), timeout=10
                )
            except PeerkitError as exc:
                self.log.debug("dcs.catch_up_failed", remote=peer[-8:], error=str(exc))
                continue
            fresh = self._receive_all(doc, reply.entries)
            # Pass on what we learnt: peers that cannot reach the author hear it from us.
            for entry in fresh:
                await self.node.publish(DcsUpdate(entry=entry))

    def _receive_all(self, doc: SharedDoc, entries: list[Entry]) -> list[Entry]:
        applied: list[Entry] = []
        for entry in sorted(entries, key=lambda e: (e.author, e.seq)):
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

    @handler
    async def update(self, msg: DcsUpdate, ctx: Context) -> None:
        doc = self.shelf.docs.get(msg.entry.doc)
        if doc is None or (ctx.sender == self.node.peer_id and msg.entry.author == doc.me.id):
            return
        before = sum(len(q) for q in doc.pending.values())
        self._receive_all(doc, [msg.entry])
        if ctx.sender and sum(len(q) for q in doc.pending.values()) > before:
            await self._catch_up_from(ctx.sender)  # a gap: ask the sender for what is missing

    @handler
    async def catch_up(self, msg: CatchUp) -> Entries:
        doc = self.shelf.docs.get(msg.doc)
        if doc is None:
            return Entries(entries=[])
        out = [e for author, entries in doc.log.items() for e in entries[msg.have.get(author, 0) :]]
        return Entries(entries=out[:2000])

    @handler
    async def envelope(self, msg: DcsEnvelope, ctx: Context) -> None:
        me = self.shelf.me
        if me is None or msg.to != me.id or msg.envelope_id in self.shelf.seen_envelopes:
            return  # someone else's, or a replay: nothing changes
        try:
            plain = open_sealed(me, msg.sender, _context(msg), msg.sealed)
            state = json.loads(plain)
            if state["doc"] != msg.doc:
                raise Rejected("envelope names another document")
            doc = self.shelf.docs.get(msg.doc)
            if msg.kind == "invite":
                if doc is None:
                    doc = SharedDoc(msg.doc, me, state["owner"])
                    self.shelf.docs[msg.doc] = doc
            elif doc is None or msg.sender != doc.owner:
                raise Rejected("key refresh from someone who is not the owner")
            if msg.sender not in state["members"] or (
                state["owner"] != msg.sender and msg.kind == "refresh"
            ):
                raise Rejected("sender is not a member")
            doc.adopt(state)
        except (Rejected, ValueError, KeyError) as exc:
            self.shelf.rejected += 1
            self.log.warning("dcs.envelope_rejected", kind=msg.kind, error=str(exc))
            return
        self.shelf.seen_envelopes.add(msg.envelope_id)
        self.log.info(
            "dcs.joined" if msg.kind == "invite" else "dcs.keys_refreshed",
            doc=msg.doc[:8],
            epoch=doc.epoch,
        )
        for peer in self.node.peers():
            await self._catch_up_from(peer)


def _context(msg: DcsEnvelope) -> bytes:
    return f"{msg.kind}\x00{msg.doc}\x00{msg.to}".encode()


def make_envelope(kind: str, doc: SharedDoc, to: str, box: bytes) -> DcsEnvelope:
    envelope_id = os.urandom(16)
    draft = DcsEnvelope(
        kind=kind, envelope_id=envelope_id, doc=doc.doc_id, to=to, sender=doc.me.id, sealed=b""
    )
    sealed = seal(doc.me, box, _context(draft), json.dumps(doc.state()).encode())
    return DcsEnvelope(
        kind=kind, envelope_id=envelope_id, doc=doc.doc_id, to=to, sender=doc.me.id, sealed=sealed
    )


__all__ = ["DcsActor", "DcsError", "DocShelf", "make_envelope"]
