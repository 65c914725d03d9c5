"""Multiauth as an extension: this peer's signer, the delegations it holds, revocations, and the
guard the router asks before every handler that declares ``requires=``."""

from __future__ import annotations

from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from ..extension import Extension

if TYPE_CHECKING:
    from ..node import Node
    from .client import AuthClient
    from .principals import Ed25519Signer
    from .revocations import Revocations


class AuthExtension(Extension):
    name = "auth"
    revocations: Revocations
    #: delegations this peer holds, by CID
    tokens: dict[str, Any]

    def install(self, node: Node) -> None:
        from .actor import AuthActor
        from .revocations import Revocations

        self._node = node
        self.revocations = Revocations(clock=node.clock.now)
        self.tokens = {}
        node.spawn(partial(AuthActor, self.revocations), name="auth")

    @cached_property
    def signer(self) -> Ed25519Signer:
        """This peer's key as a Multiauth signer (the same key as its libp2p identity); read
        when first needed, not at install: installing touches no file."""
        from .principals import Ed25519Signer

        return Ed25519Signer.from_seed(self._node.identity_seed)

    async def start(self, node: Node) -> None:
        from .guard import Guard

        node.router.guard = Guard(
            self.signer.did,
            revoked=self.revocations.is_revoked,
            known=self.tokens.get,
            trusted=lambda: frozenset(node.config.auth.trusted),
            clock=node.clock.now,
        )

    def client(self, node: Node) -> AuthClient:
        from .client import AuthClient

        return AuthClient(node)
