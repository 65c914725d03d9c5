"""Revocations: a delegation's issuer signs ``revoke: <cid>``; peers refuse chains through it."""

from __future__ import annotations

import asyncio

from .chain import check_signature
from .errors import BrokenChain, TokenMalformed
from .tokens import DELEGATION, REVOCATION, Token, parse


class Revocations:
    """The revoked delegation ids this peer knows, with the proofs that revoked them."""

    def __init__(self) -> None:
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
        is_new = dlg.cid not in self.revoked
        self.revoked[dlg.cid] = rev
        self.delegations[rev.cid] = bytes(delegation)
        for fut in self._waiters.pop(dlg.cid, []):
            if not fut.done():
                fut.set_result(None)
        return rev, is_new
