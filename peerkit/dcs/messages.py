"""Collaboration messages."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Event, Message, Request
from .doc import Entry

INBOX_PREFIX = "peerkit.dcs.inbox."


def inbox_topic(member_id: str) -> str:
    """Each collaborator's own pubsub topic, derived from their public key."""
    return INBOX_PREFIX + member_id[:32]


class DcsUpdate(Event, tag="dcs.Update", topic="peerkit.dcs"):
    entry: Entry


class DcsEnvelope(Event, tag="dcs.Envelope", topic=INBOX_PREFIX + "*"):
    """An invitation or a key refresh, sealed to ``to`` and signed by ``sender``."""

    kind: Annotated[str, msgspec.Meta(pattern="^(invite|refresh)$")]
    envelope_id: Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
    doc: str
    to: str
    sender: str
    sealed: Annotated[bytes, msgspec.Meta(max_length=64 * 1024)]


class Entries(Message, tag="dcs.Entries"):
    entries: list[Entry]


class CatchUp(Request, tag="dcs.CatchUp", reply=Entries):
    """Entries of ``doc`` the asker lacks: ``have`` maps authors to the next sequence wanted."""

    doc: str
    have: dict[str, int] = {}
