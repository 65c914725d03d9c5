"""The auth actor's messages: revocations travel on a pubsub topic, or to one peer directly."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Event, Message, Request

REVOCATIONS_TOPIC = "peerkit.auth.revocations"
TokenBytes = Annotated[bytes, msgspec.Meta(max_length=16 * 1024)]


class RevocationPublished(Event, tag="auth.RevocationPublished", topic=REVOCATIONS_TOPIC):
    """A signed revocation and the delegation it revokes (so every peer can check the signer
    is that delegation's issuer)."""

    revocation: TokenBytes
    delegation: TokenBytes


class RevocationStatus(Message, tag="auth.RevocationStatus"):
    revoked: list[str]


class CheckRevoked(Request, tag="auth.CheckRevoked", reply=RevocationStatus):
    """Which of these delegation CIDs this peer knows to be revoked."""

    cids: Annotated[list[Annotated[str, msgspec.Meta(max_length=128)]], msgspec.Meta(max_length=64)]


class RevocationList(Message, tag="auth.RevocationList"):
    items: Annotated[list[RevocationPublished], msgspec.Meta(max_length=1000)]


class ListRevocations(Request, tag="auth.ListRevocations", reply=RevocationList):
    """Every revocation a peer knows (newest 1,000): asked by peers when they connect, so a
    peer that was offline when a revocation was published still learns it."""


class Held(Message, tag="auth.Held"):
    delegations: int  # how many this peer now holds


class Hold(Request, tag="auth.Hold", reply=Held):
    """Hand a peer delegations to act on (addressed to it, with their proofs): an app node
    given `name/republish` keeps that name alive for its owner."""

    tokens: Annotated[list[TokenBytes], msgspec.Meta(min_length=1, max_length=9)]


class Revoke(Request, tag="auth.Revoke"):
    """Ask a peer to apply a revocation and spread it (what `peerkit auth revoke --via` sends)."""

    revocation: TokenBytes
    delegation: TokenBytes
