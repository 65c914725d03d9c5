"""The name keeper: keeps names alive for their owners while they are away.

A peer handed a delegation granting it ``name/republish`` on a name (``node.auth.hold``) pushes
the name's newest record it holds to every peer that connects, with the delegation as proof
(``naming.Republish``), so peers that arrive after the owner went offline still resolve it. It
stops when the delegation expires or is revoked.
"""

from __future__ import annotations

import asyncio

from ..actor import Actor, handler
from ..auth.guard import name_owner
from ..auth.tokens import DELEGATION, Capability, Token
from ..errors import PeerkitError
from ..messages import Message, Request
from .messages import Republish

REPUBLISH = "name/republish"


class KeptNames(Message, tag="naming.KeptNames"):
    names: list[str]
    pushed: int


class KeepNow(Request, tag="naming.KeepNow", reply=KeptNames):
    """Push every kept name to every connected peer now (instead of waiting for connections)."""


class NameKeeper(Actor):
    async def on_start(self) -> None:
        self.watch_peers(self._peer_changed)

    def kept(self) -> dict[str, Token]:
        """Name -> the delegation that lets this peer republish it (valid now)."""
        me, now = self.node.auth.did, self.node.clock.now()
        out: dict[str, Token] = {}
        auth = self.node.auth.ext
        for token in list(auth.tokens.values()):
            d = token.payload
            if token.kind != DELEGATION or d.aud != me or d.exp < now or d.nbf > now + 30:
                continue
            if auth.revocations.is_revoked(token.cid):
                continue
            for cap in token.caps():
                name = cap.with_.removeprefix("name:")
                if (
                    cap.with_.startswith("name:")
                    and "*" not in name
                    and cap.covers(Capability(cap.with_, REPUBLISH))
                    and d.sub == name_owner(cap.with_)  # what every verifier will require
                ):
                    out[name] = token
        return out

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if connected and self.kept():
            self.start_task(self._push_to(peer), name="push")

    async def _push_to(self, peer: str) -> int:
        pushed = 0
        for name, grant in self.kept().items():
            record = await self.node.naming.resolve(name, local_only=True)
            if record is None:
                continue
            try:
                await self.node.auth.request(
                    peer,
                    Republish(name=name, record=record.raw),
                    grant,
                    capability=Capability(f"name:{name}", REPUBLISH),
                    timeout=10,
                )
                pushed += 1
            except PeerkitError as exc:
                self.log.info("name.keep_failed", name=name[:16], remote=peer[-8:], error=str(exc))
        return pushed

    @handler
    async def keep_now(self, msg: KeepNow) -> KeptNames:
        counts = await asyncio.gather(*(self._push_to(p) for p in self.node.peers()))
        return KeptNames(names=sorted(self.kept()), pushed=sum(counts))
