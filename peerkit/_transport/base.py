"""The transport seam: the only interface between peerkit and a peer-to-peer network.

A transport moves *envelope bodies* (see ``peerkit.wire``) between peers over **channels** (one
bidirectional, framed stream to one peer) and publishes them on **topics**. It frames and
de-frames, enforces the frame size limit and decodes the envelope header; it knows nothing of
message types or actors. Implementations: ``Libp2pTransport`` (real py-libp2p) and
``MemoryTransport`` (in-process). Both pass ``tests/contract/``.

Everything a transport tells peerkit arrives through the :class:`Inbound` callbacks. They are
called on the event loop, must not block, and are the single bridge crossing per message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from typing import TYPE_CHECKING, Protocol

from ..errors import PeerkitError
from ..wire import DEFAULT_MAX_FRAME, Envelope

if TYPE_CHECKING:
    from ..peer_watch import PeerWatch

#: the protocol id of the peerkit session stream (request/reply and direct events)
PROTOCOL_ID = "/peerkit/1.0.0"


class Inbound(Protocol):
    #: who hears of connections, and when (peer_watch.py)
    peer_watch: PeerWatch

    def on_envelope(self, channel: Channel, env: Envelope) -> None:
        """An envelope arrived on ``channel``. Must not block."""

    def on_channel_closed(self, channel: Channel, error: PeerkitError | None) -> None:
        """``channel`` is gone (peer left, stream reset, bad frame). Pending work on it fails."""

    def on_published(self, topic: str, sender: str, env: Envelope) -> None:
        """A pubsub envelope from ``sender`` arrived on ``topic`` (never our own)."""

    def on_peer(self, peer: str, connected: bool, *, dialled: bool = False) -> None:
        """The first connection to ``peer`` opened (``dialled``: this side opened it) or its
        last one closed: a second connection (direct beside relayed) is not news."""

    def on_addrs_changed(self) -> None:
        """What this peer announces changed (a relay slot taken or lost)."""

    def channel_busy(self, channel: Channel) -> bool:
        """True while ``channel`` has a request in flight either way (it is not idle)."""

    def on_transport_failed(self, error: PeerkitError) -> None:
        """The network side stopped on its own (not by ``close()``): the peer is deaf and
        dumb from now on, so whoever runs it must fail loudly rather than look healthy."""


class Channel(ABC):
    """A framed, bidirectional session stream with one peer."""

    peer: str
    outbound: bool

    @abstractmethod
    def send(self, body: bytes) -> None:
        """Queue one envelope body for sending. Never blocks; raises PeerDisconnected if closed."""

    @abstractmethod
    async def drain(self) -> None:
        """Wait until the send queue is below its high-water mark (backpressure for senders)."""

    @property
    @abstractmethod
    def closed(self) -> bool: ...

    @abstractmethod
    def reset(self) -> None:
        """Abort the stream at once (used for protocol violations)."""


class Transport(ABC):
    """A node's network endpoint."""

    peer_id: str
    #: the 32-byte seed of the Ed25519 key the peer id names (the node signs with the same key)
    seed: bytes
    max_frame: int = DEFAULT_MAX_FRAME

    @abstractmethod
    async def start(self, inbound: Inbound) -> None:
        """Start listening. After this, ``peer_id`` and ``addrs()`` are valid."""

    @abstractmethod
    async def close(self) -> None:
        """Close every channel and connection; idempotent."""

    @abstractmethod
    def addrs(self) -> list[str]:
        """Full addresses other peers can dial (including ``/p2p/<peer id>``)."""

    @abstractmethod
    async def connect(self, addr: str, *, timeout: float = 10.0) -> str:
        """Dial ``addr`` (which names the peer) and return the peer id. Raises DialFailed."""

    @abstractmethod
    async def disconnect(self, peer: str) -> None: ...

    @abstractmethod
    def connected_peers(self) -> list[str]: ...

    def connection_kind(self, peer: str) -> str | None:
        """How we are connected to ``peer``: "direct", "relayed" (None: not connected)."""
        return "direct" if peer in self.connected_peers() else None

    def connection_counts(self) -> Counter[tuple[str, str]]:
        """Open connections by (direction, kind); transports that cannot tell count every
        connection as outbound and direct."""
        return Counter({("outbound", "direct"): len(self.connected_peers())})

    # --- reachability (transports with real networks override these) --------------------

    #: whether others can dial us, as a dial-back found (None: not checked)
    reachable: bool | None = None

    def remote_ip(self, peer: str) -> str | None:
        """The IP ``peer``'s direct connection comes from (None: unknown)."""
        return None

    async def dial_back(self, peer: str, addrs: list[str], timeout: float = 5.0) -> list[str]:
        """Which of ``addrs`` reach ``peer`` from a fresh dialer."""
        return []

    def wants_relay_slot(self) -> bool:
        """Whether this peer should reserve at relays (it cannot be dialled)."""
        return False

    async def reserve_at(self, peer: str, addr: str) -> None:
        """Reserve a relay slot at ``peer`` (connected); transports without relays ignore it."""
        return None

    @abstractmethod
    async def channel(self, peer: str) -> Channel:
        """Our outbound session channel to ``peer``, opened on first use and then reused."""

    @abstractmethod
    async def subscribe(self, topic: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None: ...

    @abstractmethod
    def subscribers(self, topic: str) -> list[str]:
        """Peers known to be subscribed to ``topic`` (not counting ourselves)."""

    @abstractmethod
    async def publish(self, topic: str, body: bytes) -> None:
        """Publish one envelope body. Waits (backpressure) rather than drop when queues are full."""

    def queued_for(self, peer: str | None = None) -> int:
        """Reply bytes waiting to be written to ``peer`` (to everyone when None)."""
        return 0

    def stats(self) -> dict[str, int]:
        """Counters for metrics and leak checks: open channels, live background tasks..."""
        return {}
