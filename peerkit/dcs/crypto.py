"""Keys and sealed envelopes for collaboration: peerkit.envelopes' construction under the
DCS domains, with DCS's errors."""

from __future__ import annotations

from .. import domains, envelopes
from ..envelopes import EnvelopeRejected, Identity
from ..errors import Refused, RemoteError

ENVELOPE_DOMAIN = domains.DCS_ENVELOPE
UPDATE_DOMAIN = domains.DCS_UPDATE


class DcsError(RemoteError):
    code = "dcs"


class NotAllowed(DcsError, Refused):
    """This peer does not take document commands from other peers (dcs.remote_control)."""

    code = "dcs_not_allowed"


class Rejected(DcsError):
    """An update or envelope failed a check (authentication, membership, replay...)."""

    code = "dcs_rejected"


def verify(member_id: str, signature: bytes, data: bytes) -> None:
    try:
        envelopes.verify(member_id, signature, data)
    except EnvelopeRejected as exc:
        raise Rejected(str(exc)) from None


def seal(sender: Identity, recipient_box: bytes, context: bytes, plaintext: bytes) -> bytes:
    return envelopes.seal(sender, recipient_box, context, plaintext, domain=ENVELOPE_DOMAIN)


def open_sealed(recipient: Identity, sender_id: str, context: bytes, sealed: bytes) -> bytes:
    try:
        return envelopes.open_sealed(recipient, sender_id, context, sealed, domain=ENVELOPE_DOMAIN)
    except EnvelopeRejected as exc:
        raise Rejected(str(exc)) from None


__all__ = [
    "ENVELOPE_DOMAIN",
    "UPDATE_DOMAIN",
    "DcsError",
    "Identity",
    "NotAllowed",
    "Rejected",
    "open_sealed",
    "seal",
    "verify",
]
