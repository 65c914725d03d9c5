"""The routing protocol: Kademlia's requests as peerkit messages (docs/routing.md).

Every request carries the asker's own addresses (``addrs``): a peer that asks is a peer that
routes, and others learn where to dial it (the dial checks its id). Sizes are bounded by the
types: a reply names at most ``K`` peers of at most 8 addresses each.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Message, Request

Key = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
PeerId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Addr = Annotated[str, msgspec.Meta(max_length=300)]
Addrs = Annotated[list[Addr], msgspec.Meta(max_length=8)]
Namespace = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
RecordKey = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
RecordBytes = Annotated[bytes, msgspec.Meta(max_length=16 * 1024)]
MAX_PEERS = 20


class PeerInfo(msgspec.Struct, frozen=True):
    id: PeerId
    addrs: Addrs = []


Peers = Annotated[list[PeerInfo], msgspec.Meta(max_length=MAX_PEERS)]


class Closer(Message, tag="routing.Closer"):
    """The peers the answering peer knows closest to the key (never the asker)."""

    peers: Peers = []
    #: the answering peer runs lookups for others (routing.Delegate)
    delegate: bool = False


class FindNode(Request, tag="routing.FindNode", reply=Closer):
    key: Key
    addrs: Addrs = []


class Providers(Message, tag="routing.Providers"):
    providers: Peers = []
    closer: Peers = []
    delegate: bool = False


class GetProviders(Request, tag="routing.GetProviders", reply=Providers):
    key: Key
    addrs: Addrs = []


class Stored(Message, tag="routing.Stored"):
    kept: bool = True


class AddProvider(Request, tag="routing.AddProvider", reply=Stored):
    """The asker provides ``key`` (only for itself: the provider is the sender)."""

    key: Key
    addrs: Addrs = []


class Record(Message, tag="routing.Record"):
    record: RecordBytes | None = None
    closer: Peers = []
    delegate: bool = False


class GetRecord(Request, tag="routing.GetRecord", reply=Record):
    namespace: Namespace
    key: RecordKey
    addrs: Addrs = []


class PutRecord(Request, tag="routing.PutRecord", reply=Stored):
    """Keep a record (validated by its namespace's validator before it is kept)."""

    namespace: Namespace
    key: RecordKey
    record: RecordBytes
    addrs: Addrs = []


class Found(Message, tag="routing.Found"):
    """A delegated lookup's answer: providers, a record, or a peer's addresses."""

    providers: Peers = []
    record: RecordBytes | None = None
    peer: PeerInfo | None = None


class Delegate(Request, tag="routing.Delegate", reply=Found):
    """Ask an app node to run a lookup on our behalf (it knows more of the network, and its
    answer is one round trip for us). ``kind``: "providers" (``key`` is a CID's bytes as
    hex), "record" (``namespace`` + ``key``), "peer" (``key`` is a peer id)."""

    kind: Annotated[str, msgspec.Meta(pattern="^(providers|record|peer)$")]
    key: RecordKey
    namespace: str = ""
