"""The auth actor: receives revocations (pubsub, a direct request, or from a peer's list when
it connects), checks them, records them in the node's Revocations (which the guard reads) and
persists them as pinned blocks so a restarted peer still refuses revoked chains."""

from __future__ import annotations

from ..actor import Actor, Context, handler
from ..blocks import make_block
from ..errors import PeerkitError
from .errors import AuthError, Expired, WrongAudience
from .messages import (
    CheckRevoked,
    Held,
    Hold,
    ListRevocations,
    RevocationList,
    RevocationPublished,
    RevocationStatus,
    Revoke,
)
from .revocations import Revocations
from .tokens import parse

PIN_PREFIX = "auth/revoked/"
HELD_PREFIX = "auth/held/"
MAX_HELD = 10_000


class AuthActor(Actor):
    def __init__(self, revocations: Revocations) -> None:
        self.revocations = revocations

    async def on_start(self) -> None:
        self.watch_peers(self._peer_changed)
        if not self.node.has("storage"):
            return
        storage = self.node.storage
        for pin in await storage.pins():
            if pin.name.startswith(HELD_PREFIX):
                stored = await storage.get(pin.root)
                try:
                    self.node.auth.remember(*[parse(t) for t in stored["tokens"]])
                except (PeerkitError, KeyError, TypeError) as exc:
                    self.log.warning("auth.stored_delegation_rejected", error=str(exc))
            if pin.name.startswith(PIN_PREFIX):
                stored = await storage.get(pin.root)
                try:
                    self.revocations.accept(stored["revocation"], stored["delegation"])
                except Expired:
                    await storage.unpin(pin.name)  # its delegation expired: no longer needed
                except (PeerkitError, KeyError, TypeError) as exc:
                    self.log.warning("auth.stored_revocation_rejected", error=str(exc))

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if connected:
            self.start_task(self._catch_up_from(peer), name="catch-up")

    async def _catch_up_from(self, peer: str) -> None:
        """Learn the revocations a newly connected peer knows (handled in this mailbox)."""
        try:
            known: RevocationList = await self.node.request(peer, ListRevocations(), timeout=10)
        except PeerkitError as exc:
            self.log.debug("auth.catch_up_failed", remote=peer[-8:], error=str(exc))
            return
        assert self.ref is not None
        for item in known.items:
            await self.ref.tell(item, Context(sender=peer))

    async def _apply(self, revocation: bytes, delegation: bytes, *, spread: bool) -> None:
        rev, is_new = self.revocations.accept(revocation, delegation)
        if not is_new:
            return
        revoked = rev.payload.revoke
        self.log.info("auth.revoked", delegation=revoked[:16], by=rev.iss[-12:])
        if self.node.has("storage"):
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
    async def hold(self, msg: Hold, ctx: Context) -> Held:
        """Keep delegations this peer may act on: the leaf must be addressed to this peer and
        every token must verify; they are persisted (pinned) so a restart keeps them."""
        from .chain import check_signature
        from .tokens import DELEGATION, parse

        tokens = [parse(t, expect=DELEGATION) for t in msg.tokens]
        for t in tokens:
            check_signature(t)
        if tokens[0].payload.aud != self.node.auth.did:
            raise WrongAudience(
                f"the first delegation is for {tokens[0].payload.aud}, not this peer"
            )
        held = self.node.auth.ext.tokens
        if len(held) + len(tokens) > MAX_HELD:
            raise AuthError(f"this peer holds {len(held)} delegations already (at most {MAX_HELD})")
        fresh = [t for t in tokens if t.cid not in held]
        self.node.auth.remember(*tokens)
        if fresh and self.node.has("storage"):
            block = make_block({"tokens": [t.to_bytes() for t in tokens]})
            await self.node.storage.put_blocks([block], pin=HELD_PREFIX + tokens[0].cid)
        self.log.info("auth.holding", delegation=tokens[0].cid[:16], by=(ctx.sender or "")[-8:])
        return Held(delegations=len(held))

    @handler
    async def list_revocations(self, msg: ListRevocations) -> RevocationList:
        newest = list(self.revocations.revoked.values())[-1000:]
        return RevocationList(
            items=[
                RevocationPublished(
                    revocation=rev.to_bytes(), delegation=self.revocations.delegations[rev.cid]
                )
                for rev in newest
            ]
        )

    @handler
    async def check(self, msg: CheckRevoked) -> RevocationStatus:
        return RevocationStatus(revoked=[c for c in msg.cids if c in self.revocations])

    @handler
    async def published(self, msg: RevocationPublished, ctx: Context) -> None:
        try:
            await self._apply(msg.revocation, msg.delegation, spread=False)
        except PeerkitError as exc:  # a forged revocation changes nothing
            self.log.warning("auth.revocation_rejected", remote=ctx.sender, error=str(exc))
