"""``node.auth``: issue delegations, invoke with them, revoke them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..messages import Message, tag_of
from .errors import NotGranted
from .guard import digest, pack
from .messages import RevocationPublished, Revoke
from .principals import Signer, did_for_peer
from .tokens import Capability, Token, delegate, invoke, revoke

if TYPE_CHECKING:
    from ..node import Node


class AuthClient:
    def __init__(self, node: Node) -> None:
        from .extension import AuthExtension

        ext = node.extension(AuthExtension)
        assert ext is not None  # the node builds this client only when auth is installed
        self.node = node
        self.ext = ext

    @property
    def signer(self) -> Signer:
        """This peer's own key (its libp2p identity) as a signer."""
        return self.ext.signer

    @property
    def did(self) -> str:
        return self.ext.signer.did

    def did_of(self, peer_id: str) -> str:
        """The DID of another peer (for a delegation's audience)."""
        did = did_for_peer(peer_id)
        if did is None:
            from ..errors import PeerkitError

            raise PeerkitError(f"{peer_id} is not the peer id of an Ed25519 key")
        return did

    def remember(self, *tokens: Token) -> None:
        """Keep delegations so that chains through them resolve (ours and ones we hold)."""
        for t in tokens:
            self.ext.tokens[t.cid] = t

    def delegate(self, audience: str, caps: list[Capability], **kwargs: Any) -> Token:
        kwargs.setdefault("now", int(self.node.clock.now()))
        token = delegate(kwargs.pop("signer", self.signer), audience=audience, caps=caps, **kwargs)
        self.remember(token, *kwargs.get("proofs", ()))
        return token

    async def hold(self, peer: str, delegation: Token) -> int:
        """Hand ``peer`` a delegation addressed to it, with the proofs above it that this peer
        holds; returns how many delegations ``peer`` now holds."""
        from .messages import Hold

        self.remember(delegation)
        chain = self.chain(delegation)
        reply = await self.node.request(peer, Hold(tokens=[t.to_bytes() for t in chain]))
        return int(reply.delegations)

    def chain(self, leaf: Token) -> list[Token]:
        """``leaf`` and every proof above it that this peer holds."""
        out, todo = [], [leaf]
        while todo:
            t = todo.pop()
            if t in out:
                continue
            out.append(t)
            for cid in getattr(t.payload, "prf", []):
                parent = self.ext.tokens.get(cid)
                if parent is not None:
                    todo.append(parent)
        return out

    def authorization(
        self, peer: str, msg: Message, proof: Token, capability: Capability | None = None
    ) -> bytes:
        """The container to send ``msg`` to ``peer`` under ``proof`` (a delegation to us)."""
        if capability is None:
            caps = proof.caps()
            if len(caps) != 1:
                raise NotGranted("the delegation grants several capabilities: pass capability=")
            capability = caps[0]
        self.remember(proof)
        inv = invoke(
            self.signer,
            audience=self.did_of(peer),
            cmd=tag_of(type(msg)),
            capability=capability,
            args=digest(msg),
            proof=proof,
            now=int(self.node.clock.now()),
        )
        return pack([inv, *self.chain(proof)])

    async def request(
        self,
        peer: str,
        msg: Message,
        proof: Token,
        *,
        capability: Capability | None = None,
        timeout: float | None = None,
    ) -> Any:
        """``node.request`` with an invocation of ``msg`` proven by ``proof``."""
        auth = self.authorization(peer, msg, proof, capability)
        return await self.node.request(peer, msg, timeout=timeout, auth=auth)

    async def send(
        self, peer: str, msg: Message, proof: Token, *, capability: Capability | None = None
    ) -> None:
        """``node.send`` (one-way) with an invocation of ``msg`` proven by ``proof``."""
        auth = self.authorization(peer, msg, proof, capability)
        await self.node.send(peer, msg, auth=auth)

    async def revoke(self, delegation: Token, *, signer: Signer | None = None) -> Token:
        """Revoke ``delegation`` (signed by its issuer), here and on every peer listening."""
        rev = revoke(signer or self.signer, delegation, now=int(self.node.clock.now()))
        await self.node.actor("auth").ask(
            Revoke(revocation=rev.to_bytes(), delegation=delegation.to_bytes())
        )
        return rev

    async def wait_revoked(self, cid: str, *, timeout: float = 10.0) -> None:
        """Return once this peer knows delegation ``cid`` is revoked (RequestTimeout if not
        within ``timeout`` seconds)."""
        from ..errors import RequestTimeout

        try:
            await asyncio.wait_for(self.ext.revocations.wait(cid), timeout)
        except TimeoutError:
            raise RequestTimeout(f"no revocation of {cid} arrived within {timeout}s") from None


__all__ = ["AuthClient", "RevocationPublished"]
