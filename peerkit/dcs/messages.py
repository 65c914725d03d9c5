"""Collaboration messages."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from ..messages import Event, Message, Request
from .doc import Entry, Snapshot

INBOX_PREFIX = "peerkit.dcs.inbox."


def inbox_topic(member_id: str) -> str:
    """Each collaborator's own pubsub topic, derived from their public key."""
    return INBOX_PREFIX + member_id[:32]


# gc=False, as Entry (peerkit/dcs/doc.py): it holds only an entry, so it is in no cycle
class DcsUpdate(Event, tag="dcs.Update", topic="peerkit.dcs", gc=False):
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
    #: authors' snapshots, for the streams whose early entries the asker lacks (they come
    #: first: the entries continue from them)
    snapshots: Annotated[list[Snapshot], msgspec.Meta(max_length=1024)] = []
    #: the answer was cut at its size limit: ask again with what you have now
    more: bool = False


class CatchUp(Request, tag="dcs.CatchUp", reply=Entries):
    """Entries of ``doc`` the asker lacks: ``have`` maps authors to the next sequence wanted."""

    doc: str
    have: dict[str, int] = {}


class MailKept(Message, tag="dcs.MailKept"):
    #: False: this peer does not keep mail for others (or already had this envelope)
    kept: bool


class KeepMail(Request, tag="dcs.KeepMail", reply=MailKept):
    """Ask a keeper to hold a sealed envelope for its recipient (and the streams of the
    document it names) until the recipient collects it."""

    envelope: DcsEnvelope


class Mail(Message, tag="dcs.Mail"):
    envelopes: Annotated[list[DcsEnvelope], msgspec.Meta(max_length=64)] = []


class CollectMail(Request, tag="dcs.CollectMail", reply=Mail):
    """A collaborator collects the mail a keeper holds for them: ``signature`` by their key
    over the keeper's peer id and ``at`` (wall-clock seconds), so nobody else can take it."""

    to: Annotated[str, msgspec.Meta(min_length=64, max_length=64)]
    at: int
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


# --- control: drive a peer's documents (local actors, or remote peers when the config allows) ---


class DocCard(Message, tag="dcs.DocCard"):
    id: str
    box: str


class GetCard(Request, tag="dcs.GetCard", reply=DocCard):
    pass


class DocRef(Message, tag="dcs.DocRef"):
    doc: str


class NewDoc(Request, tag="dcs.NewDoc", reply=DocRef):
    pass


class Invitation(Message, tag="dcs.Invitation"):
    """The sealed envelopes an invitation or a revocation sends (to each one's ``to``)."""

    envelopes: list[DcsEnvelope] = []


class InviteMember(Request, tag="dcs.InviteMember", reply=Invitation):
    doc: str
    card: DocCard


class EditDoc(Request, tag="dcs.EditDoc"):
    """Delete ``delete`` characters at ``index`` (code points) and insert ``text`` there; then
    apply ``patches``, each ``[index, deleted, inserted]`` on the text the previous left. All
    of it is one update (one entry), answered once stored."""

    doc: str
    index: Annotated[int, msgspec.Meta(ge=0)] = 0
    text: str = ""
    delete: Annotated[int, msgspec.Meta(ge=0)] = 0
    patches: Annotated[list[tuple[int, int, str]], msgspec.Meta(max_length=100_000)] = []


class DocText(Message, tag="dcs.DocText"):
    text: str
    epoch: int
    members: list[str]
    revoked: list[str]


class ShowDoc(Request, tag="dcs.ShowDoc", reply=DocText):
    doc: str


class RevokeMember(Request, tag="dcs.RevokeMember", reply=Invitation):
    doc: str
    member: str


class ApplyIncoming(Message, tag="dcs.ApplyIncoming"):
    """Local only: the DCS actor's note to itself to apply the live updates it has queued."""


class Transact(Request, tag="dcs.Transact"):
    """Local only (it carries a function): run ``change(crdt_doc)`` as one update."""

    doc: str
    change: Any


class UseIdentity(Request, tag="dcs.UseIdentity", reply=DocCard):
    """Local only (it carries private keys): collaborate as this identity from now on."""

    signing: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    box: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
