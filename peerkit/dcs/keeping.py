"""Store and forward in the DCS actor: what a keeper does (``dcs.keep_for_others``), and what
every collaborator does to find the mail kept for them.

The rules (bounds, checks) are in :mod:`peerkit.dcs.keeper`; this is the thin part around
them: the handlers, what is stored where, and when. Kept mail is stored before the keeper
says "kept" (an inviter may then go offline); kept streams are saved soon after they change.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from ..actor import Actor, Context, handler
from ..errors import PeerkitError
from . import saved
from .crypto import Identity
from .doc import Entry, Snapshot
from .keeper import MAIL_TTL, KeptDoc, KeptDocs, Mailboxes, collect_bytes
from .messages import (
    CatchUp,
    CollectMail,
    DcsEnvelope,
    DcsUpdate,
    Entries,
    KeepMail,
    Mail,
    MailKept,
    inbox_topic,
)

if TYPE_CHECKING:
    from ..context import NodeContext

_envelope_decoder = msgspec.msgpack.Decoder(DcsEnvelope)
#: a catch-up that brought more entries than this is not passed on over pubsub (as members)
RELAY_AT_MOST = 64
#: how long an inviter waits for each connected peer to say whether it keeps mail
KEEP_MAIL_TIMEOUT = 5.0


@dataclass
class KeptShelf:
    """What this peer keeps for others (it survives restarts of the actor)."""

    mail: Mailboxes = field(default_factory=Mailboxes)
    docs: KeptDocs = field(default_factory=KeptDocs)
    saved: dict[str, saved.SavedStreams] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    loaded: bool = False


class KeeperRole(Actor):
    """Mixed into the DCS actor. ``kept`` is set by it; ``_take_envelope`` is its own."""

    kept: KeptShelf

    def _keeping(self) -> bool:
        return self.node.config.dcs.keep_for_others

    def _take_envelope(self, msg: DcsEnvelope) -> None:  # pragma: no cover - the actor's
        raise NotImplementedError

    def _me(self) -> Identity:  # pragma: no cover - the actor's
        raise NotImplementedError

    def _schedule_save(self) -> None:  # pragma: no cover - the actor's
        raise NotImplementedError

    # --- a keeper: load, keep, hand over ------------------------------------------------

    async def _load_kept(self) -> None:
        if not self._keeping() or self.kept.loaded or not self.node.has("storage"):
            return
        self.kept.loaded = True
        storage = self.node.storage
        now = self.node.clock.now()
        for pin in await storage.pins():
            try:
                if pin.name.startswith("dcs-mail/"):
                    box = await storage.get(pin.root)
                    for t, raw in box["mail"]:
                        if now - float(t) < MAIL_TTL:  # expired mail is not brought back
                            self.kept.mail.keep(_envelope_decoder.decode(raw), float(t))
                elif pin.name.startswith("dcs-kept/"):
                    root = await storage.get(pin.root)
                    kept = self.kept.docs.keep(root["doc"])
                    if kept is None:
                        continue
                    snapshots = root.get("snapshots") or {}
                    for cid in snapshots.values():
                        kept.receive_snapshot(saved.read_snapshot(storage.read_block(cid)))
                    entries, streams = saved.read_streams(
                        root["streams"], storage.read_block, kept.have()
                    )
                    kept.receive(entries)
                    streams.snapshots = dict(snapshots)
                    self.kept.saved[kept.doc] = streams
            except (PeerkitError, msgspec.MsgspecError, KeyError, TypeError, ValueError) as exc:
                self.log.error("dcs.kept_load_failed", pin=pin.name, error=str(exc))

    @handler(open_write=True)  # anyone may leave mail: charged to the sender's quota
    async def keep_mail(self, msg: KeepMail, ctx: Context) -> MailKept:
        """Hold a sealed envelope for its recipient; answered once stored."""
        if not self._keeping():
            return MailKept(kept=False)
        env = msg.envelope
        if not self.kept.mail.keep(env, self.node.clock.now()):
            return MailKept(kept=True)  # already here
        await self._store_mailbox(env.to)
        self.log.info("dcs.mail_kept", to=env.to[:8], doc=env.doc[:8], kind=env.kind)
        self.kept.docs.keep(env.doc)
        self.start_task(self._forward(env, ctx.sender), name="forward-mail")
        return MailKept(kept=True)

    async def _forward(self, env: DcsEnvelope, sender: str | None) -> None:
        """Fetch the document's streams so far from the member who wrote the mail, then pass
        the mail on: the recipient may be connected right here, reachable only through us
        (streams first, so that what they ask for when they join is here)."""
        if sender is not None and self.kept.docs.get(env.doc) is not None:
            await self._catch_up_kept(sender, env.doc)
        await self.node.publish(env, topic=inbox_topic(env.to))

    @handler
    async def collect_mail(self, msg: CollectMail, ctx: Context) -> Mail:
        """Hand over the mail kept for ``msg.to`` (who signed the request); it stays until it
        expires, so a hand-over lost on the way loses nothing."""
        if not self._keeping():
            return Mail()
        mail = self.kept.mail.collect(
            msg.to, self.node.peer_id, msg.at, msg.signature, self.node.clock.now()
        )
        return Mail(envelopes=mail)

    async def _store_mailbox(self, to: str) -> None:
        if not self.node.has("storage"):
            return
        mail = [(t, msgspec.msgpack.encode(env)) for t, env in self.kept.mail.boxes.get(to, [])]
        await self.node.storage.put_blocks([saved.mail_block(to, mail)], pin=f"dcs-mail/{to}")

    def _keep_entries(
        self, kept: KeptDoc, entries: list[Entry], snapshots: list[Snapshot] | None = None
    ) -> list[Entry]:
        took = sum(kept.receive_snapshot(s) for s in snapshots or [])
        fresh = kept.receive(entries)
        if fresh or took:
            self.kept.dirty.add(kept.doc)
            self._schedule_save()
        return fresh

    async def _save_kept(self) -> None:
        while self.kept.dirty:
            doc_id = self.kept.dirty.pop()
            kept = self.kept.docs.get(doc_id)
            if kept is None or not self.node.has("storage"):
                continue
            before = self.kept.saved.get(doc_id) or saved.SavedStreams()
            blocks, after = saved.append_streams(kept.streams, before)
            blocks += saved.snapshot_blocks(kept.snapshots, after)
            blocks.append(saved.kept_root(doc_id, after))
            try:
                await self.node.storage.put_blocks(blocks, pin=f"dcs-kept/{doc_id}")
            except PeerkitError as exc:
                self.kept.dirty.add(doc_id)
                self.log.error("dcs.kept_save_failed", doc=doc_id[:8], error=str(exc))
                return
            self.kept.saved[doc_id] = after

    async def _catch_up_kept(self, peer: str, doc_id: str | None = None) -> None:
        """Ask ``peer`` for what the kept documents lack (page by page)."""
        for kept in list(self.kept.docs.docs.values()):
            if doc_id is not None and kept.doc != doc_id:
                continue
            while True:
                try:
                    reply: Entries = await self.node.request(
                        peer, CatchUp(doc=kept.doc, have=kept.have()), timeout=30
                    )
                except PeerkitError as exc:
                    self.log.debug("dcs.keep_catch_up_failed", remote=peer[-8:], error=str(exc))
                    break
                fresh = self._keep_entries(kept, reply.entries, reply.snapshots)
                if len(fresh) <= RELAY_AT_MOST:  # as members do: pass on a gap we filled
                    for entry in fresh:
                        await self.node.publish(DcsUpdate(entry=entry))
                if not reply.more or not fresh:
                    break

    # --- every collaborator: collect what keepers hold for me ----------------------------

    async def _collect_from(self, peer: str) -> None:
        me = self._me()
        at = int(self.node.clock.now())
        request = CollectMail(to=me.id, at=at, signature=me.sign(collect_bytes(me.id, peer, at)))
        try:
            mail: Mail = await self.node.request(peer, request, timeout=10)
        except PeerkitError as exc:  # not a keeper, or no DCS there: nothing to collect
            self.log.debug("dcs.collect_failed", remote=peer[-8:], error=str(exc))
            return
        for env in mail.envelopes:
            if env.to == me.id:
                self._take_envelope(env)


async def hand_to_keepers(node: NodeContext, env: DcsEnvelope) -> int:
    """Offer an envelope to every connected peer; returns how many keep it (stored)."""

    async def offer(peer: str) -> bool:
        try:
            reply: MailKept = await node.request(
                peer, KeepMail(envelope=env), timeout=KEEP_MAIL_TIMEOUT
            )
        except PeerkitError:
            return False
        return reply.kept

    results = await asyncio.gather(*(offer(p) for p in node.peers()))
    return sum(results)


__all__ = ["KeeperRole", "KeptShelf", "hand_to_keepers"]
