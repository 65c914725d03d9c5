"""``node.dcs``: create, invite, edit, watch, revoke shared documents.

The client only asks the DCS actor, which alone changes documents; reads (``text``, ``status``,
``doc``) look at the actor's shelf without changing it. Delivering invitations waits on other
peers, so it happens here, in the caller's task, not in the actor's mailbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .actor import DocShelf, deliver
from .crypto import DcsError, Identity
from .doc import SharedDoc
from .messages import (
    DocCard,
    DocRef,
    EditDoc,
    Invitation,
    InviteMember,
    NewDoc,
    RevokeMember,
    Transact,
    UseIdentity,
)

if TYPE_CHECKING:
    from pycrdt import Doc

    from ..actor import ActorRef
    from ..node import Node

#: how long a command to the DCS actor may take (it publishes the change before answering)
ASK_TIMEOUT = 30.0


class DcsClient:
    def __init__(self, node: Node) -> None:
        from .extension import DcsExtension

        ext = node.extension(DcsExtension)
        assert ext is not None  # the node builds this client only when dcs is installed
        self.node = node
        self.ref: ActorRef = ext.ref
        self.shelf: DocShelf = ext.shelf

    async def use_identity(self, identity: Identity) -> str:
        """Collaborate as ``identity`` (e.g. ``Identity.from_seed(master.derive("dcs"))``);
        the documents saved under it are loaded."""
        msg = UseIdentity(
            signing=identity.signing.private_bytes_raw(), box=identity.box.private_bytes_raw()
        )
        card: DocCard = await self.ref.ask(msg, timeout=ASK_TIMEOUT)
        return card.id

    @property
    def me(self) -> Identity:
        if self.shelf.me is None:
            raise DcsError("no collaboration identity yet", hint="call node.dcs.use_identity()")
        return self.shelf.me

    def card(self) -> dict[str, str]:
        """What others need to invite you: your id and your sealing key."""
        return {"id": self.me.id, "box": self.me.box_public.hex()}

    def doc(self, doc_id: str) -> SharedDoc:
        """The document as this peer holds it (read it; change it through this client)."""
        try:
            return self.shelf.docs[doc_id]
        except KeyError:
            raise DcsError(f"no document {doc_id[:12]} on this peer") from None

    async def create(self) -> str:
        ref: DocRef = await self.ref.ask(NewDoc(), timeout=ASK_TIMEOUT)
        return ref.doc

    async def invite(self, doc_id: str, card: dict[str, str], *, invite_wait: float = 10.0) -> None:
        """Add a member and send them a sealed invitation on their own inbox topic (waiting up
        to ``invite_wait`` seconds to see them subscribed); the others get the new keys."""
        try:
            member = DocCard(id=card["id"], box=card["box"])
        except (KeyError, TypeError):
            raise DcsError(
                "a collaborator card has an `id` and a `box`, each 64 hex digits",
                hint="get one with `peerkit doc card` or node.dcs.card()",
            ) from None
        sent: Invitation = await self.ref.ask(
            InviteMember(doc=doc_id, card=member), timeout=ASK_TIMEOUT
        )
        await deliver(self.node, sent, invite_wait=invite_wait)

    async def insert(self, doc_id: str, index: int, text: str) -> None:
        await self.ref.ask(EditDoc(doc=doc_id, index=index, text=text), timeout=ASK_TIMEOUT)

    async def edit(self, doc_id: str, patches: list[tuple[int, int, str]]) -> None:
        """Apply ``(index, deleted, inserted)`` patches (code points, in order) as one update:
        what an editor sends for a burst of typing. Returns once the update is stored."""
        await self.ref.ask(EditDoc(doc=doc_id, patches=list(patches)), timeout=ASK_TIMEOUT)

    async def transact(self, doc_id: str, change: Callable[[Doc], Any]) -> None:
        """Change the document's shared types in one transaction (one update for the others),
        returning once it is stored::

            await node.dcs.transact(doc, lambda d: d.get("todos", type=Array).append("milk"))

        ``change`` runs in the DCS actor, on the document's pycrdt ``Doc``: keep it short and
        do not await in it. If it raises, nothing is kept and DcsError is raised.
        """
        await self.ref.ask(Transact(doc=doc_id, change=change), timeout=ASK_TIMEOUT)

    def shared(self, doc_id: str) -> Doc:
        """The document's pycrdt ``Doc``, to read its Map, Array, Text and XML types (change
        them through :meth:`transact`: a change made here directly is never sent)."""
        return self.doc(doc_id).crdt

    async def changes(self, doc_id: str) -> AsyncIterator[Doc]:
        """The document's pycrdt ``Doc`` after every change that reaches this peer (a slow
        reader skips to the newest state)."""
        async for doc in self.shelf.changes.watch(doc_id):
            yield doc.crdt

    async def delete(self, doc_id: str, index: int, length: int) -> None:
        await self.ref.ask(EditDoc(doc=doc_id, index=index, delete=length), timeout=ASK_TIMEOUT)

    async def revoke(self, doc_id: str, member_id: str) -> None:
        """Write the deletion, start a new key epoch, send the new keys to the others only."""
        sent: Invitation = await self.ref.ask(
            RevokeMember(doc=doc_id, member=member_id), timeout=ASK_TIMEOUT
        )
        await deliver(self.node, sent)

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
        """The document's text after every change that reaches this peer (a slow reader skips
        to the newest text)."""
        async for doc in self.shelf.changes.watch(doc_id):
            yield doc.content()

    async def wait_for(
        self, doc_id: str, predicate: Callable[[str], bool], timeout: float = 20.0
    ) -> str:
        """Wait until the text satisfies ``predicate`` (or the document arrives): woken by
        every change the actor reports, DcsError after ``timeout`` seconds."""
        with self.shelf.changes.subscription(doc_id) as changes:
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        doc = self.shelf.docs.get(doc_id)
                        if doc is not None and predicate(doc.content()):
                            return doc.content()
                        await changes.get()
            except TimeoutError:
                raise DcsError(
                    f"document {doc_id[:12]} did not reach the expected state in {timeout}s"
                ) from None
