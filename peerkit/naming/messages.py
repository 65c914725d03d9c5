"""The naming actor's messages."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Event, Message, Request

RecordBytes = Annotated[bytes, msgspec.Meta(max_length=10 * 1024)]
NAMES_TOPIC = "peerkit.names"


class RecordAccepted(Message, tag="naming.RecordAccepted"):
    sequence: int
    head: bool


class PublishRecord(Request, tag="naming.PublishRecord", reply=RecordAccepted):
    """Store, persist and announce a signed record (made by the name's key holder)."""

    name: str
    record: RecordBytes


class Republish(Request, tag="naming.Republish", reply=RecordAccepted):
    """Keep and re-announce a name's signed record for its owner. Needs the capability
    ``name/republish`` on ``name:<name>``, delegated by the name's owner (peerkit.auth)."""

    name: str
    record: RecordBytes


class Resolved(Message, tag="naming.Resolved"):
    record: RecordBytes | None = None


class ResolveName(Request, tag="naming.ResolveName", reply=Resolved):
    """The best record for a name (or the one with sequence ``at``) the receiving peer holds.
    ``local_only`` is kept for older peers: a peer never asks further peers on another's behalf
    (``node.naming.resolve`` asks the connected peers itself when it holds nothing)."""

    name: str
    at: int | None = None
    local_only: bool = False


class LearnRecord(Request, tag="naming.LearnRecord", reply=RecordAccepted):
    """Local only: keep a record another peer served (verified, not announced again)."""

    name: str
    record: RecordBytes


class History(Message, tag="naming.History"):
    records: list[RecordBytes]


class NameHistory(Request, tag="naming.NameHistory", reply=History):
    name: str


class NameRecordPublished(Event, tag="naming.NameRecordPublished", topic=NAMES_TOPIC):
    name: str
    record: RecordBytes


class AnnouncedDue(Message, tag="naming.AnnouncedDue"):
    """Local only: the naming actor's note to itself that announced records of ``name``
    waiting for its rate may be taken now."""

    name: str
