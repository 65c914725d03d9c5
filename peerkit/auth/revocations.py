"""Revocations: a delegation's issuer signs ``revoke: <cid>``; peers refuse chains through it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .chain import SKEW, check_signature
from .errors import BrokenChain, Expired, TokenMalformed
from .tokens import DELEGATION, REVOCATION, Token, parse


class Revocations:
    """The revoked delegation ids this peer knows, with the proofs that revoked them.

    Anyone can revoke a delegation they issued, so the set is bounded: a revocation of an
    expired delegation is not kept (the delegation is refused anyway), and past ``limit`` the
    revocations whose delegations expire first are dropped.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, limit: int = 100_000) -> None:
        self.clock = clock
        self.limit = limit
        self.expires: dict[str, int] = {}  # delegation CID -> its expiry
        self.revoked: dict[str, Token] = {}  # delegation CID -> its revocation
        self.delegations: dict[str, bytes] = {}  # revocation CID -> the delegation it revokes
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    async def wait(self, cid: str) -> None:
        """Return once delegation ``cid`` is known to be revoked."""
        if cid in self.revoked:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(cid, []).append(fut)
        try:
            await fut
        finally:
            waiting = self._waiters.get(cid, [])
            if fut in waiting:
                waiting.remove(fut)

    def _drop_soonest(self) -> None:
        now = self.clock()
        for cid in [c for c, exp in self.expires.items() if exp + SKEW < now]:
            self._forget(cid)
        while len(self.revoked) > self.limit:
            self._forget(min(self.expires, key=self.expires.__getitem__))

    def _forget(self, cid: str) -> None:
        rev = self.revoked.pop(cid)
        self.delegations.pop(rev.cid, None)
        self.expires.pop(cid, None)

    def __contains__(self, cid: object) -> bool:
        return cid in self.revoked

    def is_revoked(self, cid: str) -> bool:
        return cid in self.revoked

    def accept(self, revocation: bytes, delegation: bytes) -> tuple[Token, bool]:
        """Check and record a revocation; returns it and whether it was new.

        Only the issuer of the delegation may revoke it; both signatures must verify.
        """
        rev = parse(revocation, expect=REVOCATION)
        dlg = parse(delegation, expect=DELEGATION)
        if rev.payload.revoke != dlg.cid:
            raise TokenMalformed("the revocation names another delegation than the one sent")
        check_signature(rev)
        check_signature(dlg)
        if rev.iss != dlg.iss:
            raise BrokenChain(
                f"only the issuer {dlg.iss} may revoke {dlg.cid[:12]}…, not {rev.iss}"
            )
        if dlg.payload.exp + SKEW < self.clock():
            raise Expired(f"delegation {dlg.cid[:12]}… has expired: its revocation is not needed")
        is_new = dlg.cid not in self.revoked
        self.revoked[dlg.cid] = rev
        self.delegations[rev.cid] = bytes(delegation)
        self.expires[dlg.cid] = dlg.payload.exp
        if len(self.revoked) > self.limit:
            self._drop_soonest()
        for fut in self._waiters.pop(dlg.cid, []):
            if not fut.done():
                fut.set_result(None)
        return rev, is_new
