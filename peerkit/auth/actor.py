"""The auth actor: receives revocations (pubsub or a direct request), checks them, records
them in the node's Revocations (which the guard reads) and persists them as pinned blocks so
a restarted peer still refuses revoked chains."""

from __future__ import annotations

from ..actor import Actor, Context, handler
from ..errors import PeerkitError
from ..storage.blocks import make_block
from .messages import CheckRevoked, RevocationPublished, RevocationStatus, Revoke
from .revocations import Revocations

PIN_PREFIX = "auth/revoked/"


class AuthActor(Actor):
    def __init__(self, revocations: Revocations) -> None:
        self.revocations = revocations

    async def on_start(self) -> None:
        if self.node.storage_ref is None:
            return
        storage = self.node.storage
        for pin in await storage.pins():
            if pin.name.startswith(PIN_PREFIX):
                stored = await storage.get(pin.root)
                try:
                    self.revocations.accept(stored["revocation"], stored["delegation"])
                except (PeerkitError, KeyError, TypeError) as exc:
                    self.log.warning("auth.stored_revocation_rejected", error=str(exc))

    async def _apply(self, revocation: bytes, delegation: bytes, *, spread: bool) -> None:
        rev, is_new = self.revocations.accept(revocation, delegation)
        if not is_new:
            return
        revoked = rev.payload.revoke
        self.log.info("auth.revoked", delegation=revoked[:16], by=rev.iss[-12:])
        if self.node.storage_ref is not None:
            block = make_block({"revocation": revocation, "delegation": delegation})
            await self.node.storage.put_blocks([block], pin=PIN_PREFIX + revoked)
        if spread:
            await self.node.publish(
                RevocationPublished(revocation=revocation, delegation=delegation)
            )

    @handler
    async def revoke(self, msg: Revoke) -> None:
        await self._apply(msg.revocation, msg.delegation, spread=True)

    @handler
    async def check(self, msg: CheckRevoked) -> RevocationStatus:
        return RevocationStatus(revoked=[c for c in msg.cids if c in self.revocations])

    @handler
    async def published(self, msg: RevocationPublished, ctx: Context) -> None:
        try:
            await self._apply(msg.revocation, msg.delegation, spread=False)
        except PeerkitError as exc:  # a forged revocation changes nothing
            self.log.warning("auth.revocation_rejected", remote=ctx.sender, error=str(exc))
