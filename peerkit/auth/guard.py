"""The interceptor: handlers declare what a request needs; the router asks the guard first.

    class Keeper(Service):
        @handler(requires=Requires("name/republish", on="name:{name}", owner=name_owner))
        async def republish(self, msg: Republish, ctx: Context) -> None: ...

A remote request to such a handler must carry an authorization container in its envelope: the
invocation first, then the delegations of its chain (DAG-CBOR list of token bytes). Requests
from this peer's own process are trusted (they never cross the wire).
"""

from __future__ import annotations

import hashlib
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ..blocks import NotCanonical, decode, encode
from ..messages import Message, tag_of
from ..names import RecordError, pubkey_of
from .chain import ReplayCache, Request, authorize
from .errors import AuthMissing, TokenMalformed
from .principals import did_for_ed25519, did_for_peer
from .tokens import INVOCATION, MAX_PROOFS, Capability, Token, parse

MAX_CONTAINER = 64 * 1024


@dataclass(frozen=True)
class Requires:
    """The capability a request needs: ``can`` on the resource ``on`` (a template filled from
    the message's fields, or a function of the message).

    Whose authority counts: ``owner`` maps a resource to the DID that owns it (a name is owned
    by its key): the chain's subject must be that owner. For resources nobody owns (a CID, this
    peer's storage) ``trusted=True`` accepts only subjects listed in the peer's config
    (``auth.trusted``), e.g. the operator's or the app's wallet.
    """

    can: str
    on: str | Callable[[Any], str]
    owner: Callable[[str], str | None] | None = None
    trusted: bool = False

    def check_fields(self, msg_type: type[Message]) -> None:
        """ValueError unless every ``{field}`` in ``on`` is a field of ``msg_type`` (called when
        the handler is routed, so a typo fails at start, not on the first request)."""
        if callable(self.on):
            return
        fields = {f.name for f in msgspec.structs.fields(msg_type)}
        for _, name, _, _ in string.Formatter().parse(self.on):
            if name is not None and name.split(".")[0].split("[")[0] not in fields:
                raise ValueError(
                    f"requires on={self.on!r}: {{{name}}} is not a field of {msg_type.__name__}"
                )

    def capability(self, msg: Message) -> Capability:
        if callable(self.on):
            return Capability(self.on(msg), self.can)
        fields = msgspec.structs.asdict(msg)
        try:
            return Capability(self.on.format_map(fields), self.can)
        except (KeyError, IndexError, ValueError) as exc:
            raise TokenMalformed(
                f"cannot fill {self.on!r} from {type(msg).__name__}: {exc}"
            ) from None


def name_owner(resource: str) -> str | None:
    """``name:k51...`` is owned by the name's own key."""
    name = resource.removeprefix("name:")
    try:
        return did_for_ed25519(pubkey_of(name))
    except RecordError:
        return None


def digest(msg: Message) -> bytes:
    """What an invocation binds to: the SHA-256 of the message as msgpack."""
    return hashlib.sha256(msgspec.msgpack.encode(msg)).digest()


def pack(tokens: list[Token]) -> bytes:
    """The container sent in a request's envelope: the invocation, then its chain."""
    return encode([t.to_bytes() for t in tokens])


def unpack(data: bytes) -> list[Token]:
    if len(data) > MAX_CONTAINER:
        raise TokenMalformed(f"authorization of {len(data)} bytes exceeds {MAX_CONTAINER}")
    try:
        items = decode(data)
    except NotCanonical as exc:
        raise TokenMalformed(f"authorization container: {exc}") from None
    if (
        not isinstance(items, list)
        or not 1 <= len(items) <= MAX_PROOFS + 1
        or not all(isinstance(i, bytes) for i in items)
    ):
        raise TokenMalformed("authorization container: a list of 1 to 9 tokens (bytes)")
    return [parse(item) for item in items]


class Guard:
    """Per-node authorization state: who we are, what was revoked, what was already invoked."""

    def __init__(
        self,
        verifier: str,
        *,
        revoked: Callable[[str], bool] = lambda cid: False,
        known: Callable[[str], Token | None] = lambda cid: None,
        trusted: Callable[[], frozenset[str]] = frozenset,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.trusted = trusted
        self.revoked = revoked
        self.known = known
        self.clock = clock
        self.replays = ReplayCache()
        self.accepted = 0
        self.refused = 0

    def check(self, container: bytes, msg: Message, sender: str, requires: Requires) -> list[Token]:
        needs = requires.capability(msg)
        tag = tag_of(type(msg))
        if not container:
            self.refused += 1
            raise AuthMissing(
                f"{tag} needs {needs}, and the request carries no delegation",
                hint="invoke it with node.auth.request(peer, msg, proof=delegation)",
            )
        try:
            tokens = unpack(container)
            invocation = tokens[0]
            if invocation.kind != INVOCATION:
                raise TokenMalformed("the first token of an authorization is the invocation")
            carried = {t.cid: t for t in tokens[1:]}
            chain = authorize(
                invocation,
                Request(
                    verifier=self.verifier,
                    sender=did_for_peer(sender),
                    cmd=tag,
                    needs=needs,
                    args=digest(msg),
                    owner=requires.owner(needs.with_) if requires.owner else None,
                    subjects=self.trusted() if requires.trusted else None,
                ),
                resolve=lambda cid: carried.get(cid) or self.known(cid),
                now=int(self.clock()),
                revoked=self.revoked,
                replays=self.replays,
            )
        except Exception:
            self.refused += 1
            raise
        self.accepted += 1
        return chain
