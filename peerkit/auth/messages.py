"""The auth actor's messages: revocations travel on a pubsub topic, or to one peer directly."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Event, Request

REVOCATIONS_TOPIC = "peerkit.auth.revocations"
TokenBytes = Annotated[bytes, msgspec.Meta(max_length=16 * 1024)]


class RevocationPublished(Event, tag="auth.RevocationPublished", topic=REVOCATIONS_TOPIC):
    """A signed revocation and the delegation it revokes (so every peer can check the signer
    is that delegation's issuer)."""

    revocation: TokenBytes
    delegation: TokenBytes


class Revoke(Request, tag="auth.Revoke"):
    """Ask a peer to apply a revocation and spread it (what `peerkit auth revoke --via` sends)."""

    revocation: TokenBytes
    delegation: TokenBytes
