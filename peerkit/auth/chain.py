"""Checking an invocation and its delegation chain (pure: the clock, the revocation set, the
replay cache and the proof resolver are passed in).

The rules, after UCAN 1.0 where they apply:

1. every token's signature verifies under its own kind's domain (else BadSignature, or
   WrongContext when it verifies under another kind's or a name record's domain);
2. the invocation is addressed to this verifier, its issuer is the peer that sent it, and it
   invokes exactly this request (command, capability and message digest);
3. the leaf delegation's audience is the invoker; each parent's audience is its child's issuer;
   all share one subject; a root delegation is issued by the subject itself;
4. each delegation's capabilities are covered by its parent's (narrowed or restated, never
   widened); the invoked capability is covered by the leaf's;
5. the chain is valid between the latest not-before and the earliest expiry, with ``skew``
   seconds allowance; no token in it is revoked; every proof resolves;
6. an invocation id (its CID) is accepted once until it expires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import domains
from .errors import (
    BadSignature,
    BrokenChain,
    CapabilityWidened,
    Expired,
    NotGranted,
    NotYetValid,
    ProofUnresolvable,
    Replayed,
    Revoked,
    TokenMalformed,
    WrongAudience,
    WrongContext,
)
from .principals import verify
from .tokens import DELEGATION, DOMAINS, INVOCATION, MAX_PROOFS, Capability, Token

_verified: set[str] = set()
SKEW = 30  # seconds of clock difference tolerated between peers (as for name records)
MAX_INVOCATION_LIFETIME = 3600  # bounds how long the replay cache must remember an id


def check_signature(token: Token) -> None:
    """BadSignature / WrongContext unless the token's signature verifies.

    Good results are cached by CID (the CID covers the signature and the signed payload), so
    a delegation that arrives with every request is verified once.
    """
    if token.cid in _verified:
        return
    if verify(token.iss, token.alg, token.signed, token.sig):
        if len(_verified) >= 65536:
            _verified.clear()
        _verified.add(token.cid)
        return
    body = token.signed[len(DOMAINS[token.kind]) :]
    others = {f"a {kind}": domain for kind, domain in DOMAINS.items() if kind != token.kind}
    others["a name record"] = domains.NAME_RECORD
    others["a DCS envelope"] = domains.DCS_ENVELOPE
    others["a DCS update"] = domains.DCS_UPDATE
    others["a DCS mail collection"] = domains.DCS_COLLECT
    others["a DCS snapshot"] = domains.DCS_SNAPSHOT
    others["a name key"] = domains.NAME_KEY
    for what, domain in others.items():
        if verify(token.iss, token.alg, domain + body, token.sig):
            raise WrongContext(
                f"{token.kind} {_short(token.cid)}: the signature was made for {what},"
                f" not a {token.kind}"
            )
    raise BadSignature(f"{token.kind} {_short(token.cid)}: the signature does not verify")


@dataclass
class ReplayCache:
    """Invocation ids seen, each kept until its expiry (plus skew)."""

    max_entries: int = 100_000
    seen: dict[str, int] = field(default_factory=dict)

    def check(self, cid: str) -> None:
        if cid in self.seen:
            raise Replayed(f"invocation {_short(cid)} was already used")

    def remember(self, cid: str, expires: int, now: int) -> None:
        if len(self.seen) >= self.max_entries:
            self.seen = {c: e for c, e in self.seen.items() if e + SKEW >= now}
            while len(self.seen) >= self.max_entries:  # still full: drop the soonest to expire
                del self.seen[min(self.seen, key=self.seen.__getitem__)]
        self.seen[cid] = expires


@dataclass(frozen=True)
class Request:
    """What the verifier knows about the request being authorized."""

    verifier: str  # this peer's DID
    sender: str | None  # the sending peer's DID when the transport authenticates it
    cmd: str  # the message tag
    needs: Capability
    args: bytes  # digest of the message
    owner: str | None = None  # the DID that owns the resource, when the resource has one
    subjects: frozenset[str] | None = None  # else: the subjects this peer trusts, if limited


def authorize(
    invocation: Token,
    request: Request,
    *,
    resolve: Callable[[str], Token | None],
    now: int,
    revoked: Callable[[str], bool] = lambda cid: False,
    replays: ReplayCache | None = None,
    skew: int = SKEW,
) -> list[Token]:
    """Check ``invocation`` for ``request``; return the delegation chain (leaf first).

    Raises the AuthError of the first rule that fails. Remembers the invocation id only when
    everything passed.
    """
    inv = invocation
    if inv.kind != INVOCATION:
        raise TokenMalformed(f"expected an invocation, got a {inv.kind}")
    p = inv.payload
    check_signature(inv)
    if p.aud != request.verifier:
        raise WrongAudience(
            f"invocation {_short(inv.cid)} is addressed to {p.aud}, not this peer"
            f" ({request.verifier})"
        )
    if request.sender is not None and p.iss != request.sender:
        raise WrongAudience(
            f"invocation {_short(inv.cid)} was issued by {p.iss} but sent by {request.sender}"
        )
    invoked = Capability(p.cap.with_, p.cap.can)
    if p.cmd != request.cmd or p.args != request.args:
        raise NotGranted(f"invocation {_short(inv.cid)} is for another request ({p.cmd})")
    if not invoked.covers(request.needs):
        raise NotGranted(f"invocation {_short(inv.cid)} invokes {invoked}, not {request.needs}")
    if p.exp - p.iat > MAX_INVOCATION_LIFETIME:
        raise TokenMalformed(
            f"invocation {_short(inv.cid)} lives {p.exp - p.iat}s;"
            f" at most {MAX_INVOCATION_LIFETIME}s is accepted"
        )
    _check_time(inv, inv.payload.iat, p.exp, now, skew)
    if revoked(inv.cid):
        raise Revoked(f"invocation {_short(inv.cid)} is revoked")
    if replays is not None:
        replays.check(inv.cid)

    leaf = _resolve(p.prf[0], resolve, f"invocation {_short(inv.cid)}")
    if leaf.kind != DELEGATION:
        raise BrokenChain(f"proof {_short(leaf.cid)} is a {leaf.kind}, not a delegation")
    if leaf.payload.aud != p.iss:
        raise WrongAudience(
            f"delegation {_short(leaf.cid)} is for {leaf.payload.aud}, but the invoker is {p.iss}"
        )
    if leaf.payload.sub != p.sub:
        raise BrokenChain(f"invocation {_short(inv.cid)} names another subject than its proof")
    if not any(c.covers(invoked) for c in leaf.caps()):
        raise NotGranted(
            f"delegation {_short(leaf.cid)} grants {', '.join(map(str, leaf.caps()))};"
            f" it does not grant {invoked}"
        )
    if request.owner is not None and p.sub != request.owner:
        raise NotGranted(
            f"the chain's subject {p.sub} does not own {request.needs.with_}"
            f" (its owner is {request.owner})"
        )
    if request.subjects is not None and p.sub not in request.subjects:
        raise NotGranted(
            f"this peer does not take {request.needs} from {p.sub}: it is not one of the"
            f" {len(request.subjects)} subject(s) listed under auth.trusted in its config",
            hint="add the DID of the key holder whose authority counts to auth.trusted",
        )
    chain = _walk(leaf, resolve, now=now, skew=skew, revoked=revoked)
    if replays is not None:
        replays.remember(inv.cid, p.exp, now)
    return chain


def _walk(
    leaf: Token,
    resolve: Callable[[str], Token | None],
    *,
    now: int,
    skew: int,
    revoked: Callable[[str], bool],
) -> list[Token]:
    chain = [leaf]
    token = leaf
    while True:
        check_signature(token)
        d = token.payload
        _check_time(token, d.nbf, d.exp, now, skew)
        if revoked(token.cid):
            raise Revoked(f"delegation {_short(token.cid)} is revoked by its issuer")
        if not d.prf:
            if d.iss != d.sub:
                raise BrokenChain(
                    f"delegation {_short(token.cid)} has no proof, so its issuer must be its"
                    f" subject ({d.sub}), not {d.iss}"
                )
            return chain
        if len(chain) > MAX_PROOFS:
            raise BrokenChain(f"the chain is longer than {MAX_PROOFS} delegations")
        parent = _pick_parent(token, resolve)
        chain.append(parent)
        token = parent


def _pick_parent(child: Token, resolve: Callable[[str], Token | None]) -> Token:
    """The first proof that is a sound parent of ``child``; the first failure otherwise."""
    failure: Exception | None = None
    for cid in child.payload.prf:
        try:
            parent = _resolve(cid, resolve, f"delegation {_short(child.cid)}")
            _check_link(child, parent)
            return parent
        except (BrokenChain, CapabilityWidened) as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


def _check_link(child: Token, parent: Token) -> None:
    c, p = child.payload, parent.payload
    where = f"delegation {_short(child.cid)} -> proof {_short(parent.cid)}"
    if parent.kind != DELEGATION:
        raise BrokenChain(f"{where}: the proof is a {parent.kind}, not a delegation")
    if p.aud != c.iss:
        raise BrokenChain(f"{where}: the proof was given to {p.aud}, not to the issuer {c.iss}")
    if p.sub != c.sub:
        raise BrokenChain(f"{where}: the subjects differ ({c.sub} vs {p.sub})")
    granted = parent.caps()
    for cap in child.caps():
        if not any(g.covers(cap) for g in granted):
            raise CapabilityWidened(
                f"{where}: {cap} is wider than what the proof grants"
                f" ({', '.join(map(str, granted))})"
            )


def _resolve(cid: str, resolve: Callable[[str], Token | None], who: str) -> Token:
    token = resolve(cid)
    if token is None:
        raise ProofUnresolvable(
            f"{who}: proof {_short(cid)} cannot be found",
            hint="send the whole chain with the invocation (peerkit does), or store it first",
        )
    if token.cid != cid:
        raise BrokenChain(f"{who}: proof {_short(cid)} resolved to another token")
    return token


def _check_time(token: Token, nbf: int, exp: int, now: int, skew: int) -> None:
    if exp + skew < now:
        raise Expired(f"{token.kind} {_short(token.cid)} expired {now - exp}s ago")
    if nbf - skew > now:
        raise NotYetValid(f"{token.kind} {_short(token.cid)} is valid from {nbf - now}s from now")


def _short(cid: str) -> str:
    return cid[:8] + "…" + cid[-6:]
