"""Scenario 1 of the whitepaper as one call each way.

Write: a document -> quads under a vocabulary -> a DAG (sealed for its readers, or in the
clear) -> pinned -> the name of its label points at it -> the Me DAG lists the name.
Read: a name -> its record -> the DAG (fetched from whoever has it) -> opened with the reader's
identity when sealed -> the document.

The Me DAG is the user's index (encrypted with their master key, published under their Me
name): ``names`` they can read, ``content`` (for each name they publish: its label,
vocabulary, whether it is sealed and to whom), ``vocabularies`` they use, and the pubsub
``topics`` and ``rendezvous`` namespaces of the apps they log in to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..blocks import CID, parse_cid
from ..envelopes import Identity
from ..storage.errors import BlockNotFound
from ..storage.sealed import NotAReader, Reader, is_sealed
from .records import NameRecord

if TYPE_CHECKING:
    from ..node import Node
    from .client import Session

#: pins of what a user publishes under a label
CONTENT_PIN = "content/"


class Published(NamedTuple):
    name: str
    cid: CID
    record: NameRecord


async def publish_document(
    session: Session,
    label: str,
    document: dict[str, Any],
    *,
    vocab: str = "schema.org",
    readers: list[Reader] | None = None,
    push_to: list[str] | None = None,
) -> Published:
    node = session.naming.node
    pin = CONTENT_PIN + label
    if readers is None:
        root = await node.storage.put_document(document, vocab=vocab, pin=pin)
    else:
        root = await node.storage.put_sealed_document(
            document, owner=session.identity, readers=readers, vocab=vocab, pin=pin
        )
    record = await session.naming.publish(session.key_for(label), root.encode(), push_to=push_to)
    me = dict(session.me)
    me["names"] = sorted({*me.get("names", []), record.name})
    me["vocabularies"] = sorted({*me.get("vocabularies", []), vocab})
    content = dict(me.get("content", {}))
    content[record.name] = {
        "label": label,
        "vocab": vocab,
        "sealed": readers is not None,
        "readers": sorted({r.id for r in readers or []} | {session.identity.id})
        if readers is not None
        else [],
    }
    me["content"] = content
    await session.save_me(me)
    return Published(record.name, root, record)


async def set_readers(
    session: Session, label: str, readers: list[Reader], *, push_to: list[str] | None = None
) -> Published:
    """Seal the label's current document again, under a new key, for ``readers`` only: a
    reader left out cannot open this version or any later one."""
    node = session.naming.node
    name = session.name_of(label)
    record = await session.naming.resolve(name)
    if record is None:
        raise BlockNotFound(f"{label} ({name}) has not been published")
    current = _cid_of(record)
    root = await node.storage.reseal(
        current, owner=session.identity, readers=readers, pin=CONTENT_PIN + label
    )
    record = await session.naming.publish(session.key_for(label), root.encode(), push_to=push_to)
    me = dict(session.me)
    content = dict(me.get("content", {}))
    entry = dict(content.get(name, {"label": label, "vocab": "schema.org"}))
    entry.update(sealed=True, readers=sorted({r.id for r in readers} | {session.identity.id}))
    content[name] = entry
    me["content"] = content
    await session.save_me(me)
    return Published(name, root, record)


async def read_document(node: Node, name: str, identity: Identity | None = None) -> dict[str, Any]:
    """The document a name points at now; sealed ones open with ``identity`` (NotAReader for
    an identity that is not among the readers)."""
    return (await read_published(node, name, identity))[1]


async def read_published(
    node: Node, name: str, identity: Identity | None = None
) -> tuple[NameRecord, dict[str, Any]]:
    """The name's record and the document it points at (the version read is the record's)."""
    record = await node.naming.resolve(name)
    if record is None:
        raise BlockNotFound(
            f"no record of the name {name} was found",
            hint="is a peer that holds it (its publisher, an app node) connected?",
        )
    cid = _cid_of(record)
    storage = node.storage
    if not storage.has(cid) or storage.missing(cid):
        await storage.fetch(cid)
    if is_sealed(cid, storage.read_block(cid)):
        if identity is None:
            raise NotAReader(f"{name} is sealed content", hint="open it as one of its readers")
        return record, await storage.open_sealed_document(cid, identity)
    return record, await storage.get_document(cid)


async def read_as(session: Session, name: str) -> tuple[NameRecord, dict[str, Any]]:
    """Read as the session's user; the Me DAG's index of readable names follows the answer."""
    names = set(session.me.get("names", []))
    try:
        record, document = await read_published(session.naming.node, name, session.identity)
    except NotAReader:
        if name in names and name not in session.me.get("content", {}):
            await session.save_me({**session.me, "names": sorted(names - {name})})
        raise
    if name not in names:
        await session.save_me({**session.me, "names": sorted(names | {name})})
    return record, document


async def remember_app(session: Session) -> None:
    """Keep the app's rendezvous namespaces and topics in the Me DAG (saved only when they
    add something): a device that logs in later finds the app's peers and conversations."""
    node = session.naming.node
    rendezvous = node.config.rendezvous
    namespaces = {*rendezvous.prefer, *rendezvous.namespaces}
    topics = {t for t in node.topics if not t.startswith("peerkit.")}
    me = session.me
    if namespaces <= set(me.get("rendezvous", [])) and topics <= set(me.get("topics", [])):
        return
    await session.save_me(
        {
            **me,
            "rendezvous": sorted({*me.get("rendezvous", []), *namespaces}),
            "topics": sorted({*me.get("topics", []), *topics}),
        }
    )


def _cid_of(record: NameRecord) -> CID:
    value = record.value.decode("utf-8", "replace")
    if not value.startswith("/ipfs/"):
        raise BlockNotFound(f"{record.name} points at {value!r}, not at content")
    return parse_cid(value.removeprefix("/ipfs/").split("/")[0])
