"""``node.dcs``: create, invite, edit, watch, revoke shared documents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..errors import PeerkitError
from .actor import DocShelf, make_envelope
from .crypto import DcsError, Identity
from .doc import Entry, SharedDoc
from .messages import DcsUpdate, inbox_topic

if TYPE_CHECKING:
    from ..node import Node


class DcsClient:
    def __init__(self, node: Node) -> None:
        from .extension import DcsExtension

        ext = node.extension(DcsExtension)
        assert ext is not None  # the node builds this client only when dcs is installed
        self.node = node
        self.shelf: DocShelf = ext.shelf

    async def use_identity(self, identity: Identity) -> str:
        """Collaborate as ``identity`` (e.g. ``Identity.from_seed(master.derive("dcs"))``)."""
        self.shelf.me = identity
        await self.node.subscribe(inbox_topic(identity.id))
        return identity.id

    @property
    def me(self) -> Identity:
        if self.shelf.me is None:
            raise DcsError("no collaboration identity yet", hint="call node.dcs.use_identity()")
        return self.shelf.me

    def card(self) -> dict[str, str]:
        """What others need to invite you: your id and your sealing key."""
        return {"id": self.me.id, "box": self.me.box_public.hex()}

    def doc(self, doc_id: str) -> SharedDoc:
        try:
            return self.shelf.docs[doc_id]
        except KeyError:
            raise DcsError(f"no document {doc_id[:12]} on this peer") from None

    async def create(self) -> str:
        doc = SharedDoc.create(self.me)
        self.shelf.docs[doc.doc_id] = doc
        await self._publish(doc, doc.edit(lambda d: d.meta.__setitem__("owner", self.me.id)))
        return doc.doc_id

    async def invite(self, doc_id: str, card: dict[str, str], *, invite_wait: float = 10.0) -> None:
        """Add a member and send them a sealed invitation on their own inbox topic."""
        doc = self.doc(doc_id)
        if doc.owner != self.me.id:
            raise DcsError("only the owner invites")
        try:
            box = bytes.fromhex(card["box"])
            if len(box) != 32 or len(bytes.fromhex(card["id"])) != 32:
                raise ValueError("wrong length")
        except (KeyError, ValueError, TypeError):
            raise DcsError(
                "a collaborator card has an `id` and a `box`, each 64 hex digits",
                hint="get one with `peerkit doc card` or node.dcs.card()",
            ) from None
        doc.add_member(card["id"], box)
        await self._publish(
            doc, doc.edit(lambda d: d.meta.__setitem__("member:" + card["id"], True))
        )
        topic = inbox_topic(card["id"])
        try:  # gossip delivers only to subscribers we know of: give the invitee a moment
            await self.node.wait_for_subscribers(topic, 1, timeout=invite_wait)
        except PeerkitError:
            pass  # publish anyway: the invitee may be reached through the mesh
        await self.node.publish(make_envelope("invite", doc, card["id"], box), topic=topic)
        await self._refresh_members(doc, skip=frozenset({card["id"]}))

    async def _refresh_members(self, doc: SharedDoc, skip: frozenset[str] = frozenset()) -> None:
        """Send the current membership and keys to every other member (sealed to each)."""
        for m in list(doc.members.values()):
            if m.id != self.me.id and m.id not in skip:
                await self.node.publish(
                    make_envelope("refresh", doc, m.id, m.box), topic=inbox_topic(m.id)
                )

    async def insert(self, doc_id: str, index: int, text: str) -> None:
        doc = self.doc(doc_id)
        await self._publish(doc, doc.insert(index, text))

    async def delete(self, doc_id: str, index: int, length: int) -> None:
        doc = self.doc(doc_id)
        await self._publish(doc, doc.delete(index, length))

    async def _publish(self, doc: SharedDoc, entry: Entry | None) -> None:
        if entry is not None:
            self.shelf.changed(doc)
            await self.node.publish(DcsUpdate(entry=entry))

    async def revoke(self, doc_id: str, member_id: str) -> None:
        """Write the deletion, start a new key epoch, send the new keys to the others only."""
        doc = self.doc(doc_id)
        if doc.owner != self.me.id:
            raise DcsError("only the owner revokes")
        await self._publish(doc, doc.edit(lambda d: d.meta.pop("member:" + member_id, None)))
        doc.revoke(member_id)
        await self._refresh_members(doc)

    def text(self, doc_id: str) -> str:
        return self.doc(doc_id).content()

    def status(self, doc_id: str) -> dict[str, Any]:
        doc = self.doc(doc_id)
        return {
            "doc": doc.doc_id,
            "owner": doc.owner,
            "epoch": doc.epoch,
            "members": sorted(doc.members),
            "revoked": sorted(doc.cut),
            "streams": {
                a: {"applied": n, "waiting": len(doc.pending.get(a, {}))}
                for a, n in doc.applied.items()
            },
        }

    async def watch(self, doc_id: str) -> AsyncIterator[str]:
        """The document's text after every change that reaches this peer."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.shelf.watchers[doc_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.shelf.watchers[doc_id].discard(queue)

    async def wait_for(self, doc_id: str, predicate: Any, timeout: float = 20.0) -> str:
        """Wait until the text satisfies ``predicate`` (or the document arrives)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            doc = self.shelf.docs.get(doc_id)
            if doc is not None and predicate(doc.content()):
                return doc.content()
            if loop.time() > deadline:
                raise DcsError(f"document {doc_id[:12]} did not reach the expected state")
            await asyncio.sleep(0.01)
