"""Why an authorization failed: one typed error per rule, each with its own wire code, so the
asking peer learns exactly which rule its request broke."""

from __future__ import annotations

from ..errors import RemoteError


class AuthError(RemoteError):
    """A request needed a capability its delegation chain does not prove."""

    code = "unauthorized"


class AuthMissing(AuthError):
    code = "auth_missing"


class TokenMalformed(AuthError):
    code = "auth_malformed"


class BadSignature(AuthError):
    code = "auth_bad_signature"


class WrongContext(BadSignature):
    """The signature is genuine but was made for another kind of message (a name record, an
    invocation...): domain separation refuses it."""

    code = "auth_wrong_context"


class Expired(AuthError):
    code = "auth_expired"


class NotYetValid(AuthError):
    code = "auth_not_yet_valid"


class WrongAudience(AuthError):
    code = "auth_wrong_audience"


class CapabilityWidened(AuthError):
    code = "auth_widened"


class BrokenChain(AuthError):
    code = "auth_broken_chain"


class ProofUnresolvable(BrokenChain):
    code = "auth_unresolvable"


class NotGranted(AuthError):
    """The chain is sound but does not grant what this request needs."""

    code = "auth_not_granted"


class Revoked(AuthError):
    code = "auth_revoked"


class Replayed(AuthError):
    code = "auth_replayed"
