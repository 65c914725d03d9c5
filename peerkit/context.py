"""What an actor sees of its node: the narrow context (a Protocol), not the whole ``Node``.

``Actor.node`` is typed as :class:`NodeContext`, so mypy keeps actors to it: talking to peers,
pubsub, peer events, the clock, the config, and the clients of the installed families. The
router, the supervisor, the transport and other families' state stay the node's business.
``peerkit.testing.FakeNode`` stands in for it in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .auth.client import AuthClient
    from .clock import Clock
    from .config import PeerConfig
    from .dcs.client import DcsClient
    from .messages import Event, Message
    from .naming.client import NamingClient
    from .rendezvous.client import RendezvousApi
    from .routing.client import RoutingClient
    from .storage.client import StorageClient


class NodeContext(Protocol):
    @property
    def peer_id(self) -> str: ...

    config: PeerConfig
    clock: Clock
    #: the node's structlog logger (the peer bound); actors have their own ``self.log``
    log: Any

    @property
    def identity_seed(self) -> bytes:
        """The node's secret seed (derive identities from it, never send it)."""
        ...

    def addrs(self) -> list[str]: ...

    def peers(self) -> list[str]: ...

    async def connect(self, target: str | list[str], *, timeout: float = 10.0) -> str: ...

    def learn_addrs(self, peer: str, addrs: list[str]) -> None: ...

    @property
    def addrs_version(self) -> int: ...

    async def addrs_changed_since(self, version: int) -> None: ...

    def connection_kind(self, peer: str) -> str | None: ...

    def dialled(self, peer: str) -> bool:
        """Whether this node opened its connection to ``peer``."""
        ...

    def remote_ip(self, peer: str) -> str | None: ...

    def take_open_write(self, sender: str, msg: Message) -> str | None:
        """Spend ``sender``'s open-write quota for ``msg`` (as ``@handler(open_write=True)``
        does before the handler runs), for a handler that decides itself which writes are
        open ones; what to tell the sender when it is used up, None when spent."""
        ...

    async def dial_back(self, peer: str, addrs: list[str]) -> list[str]: ...

    async def set_reachable(self, reachable: bool) -> None: ...

    async def request(
        self, peer: str, msg: Message, *, timeout: float | None = None, auth: bytes = b""
    ) -> Any: ...

    async def send(self, peer: str, msg: Message, *, auth: bytes = b"") -> None: ...

    async def publish(self, event: Event, topic: str | None = None) -> None: ...

    async def subscribe(self, topic: str) -> None: ...

    async def wait_for_subscribers(
        self, topic: str | type[Event], count: int = 1, *, timeout: float = 10.0
    ) -> list[str]: ...

    def watch_peers(
        self, listener: Callable[[str, bool], None], *, at_once: bool = False
    ) -> Callable[[], None]:
        """Call ``listener(peer, connected)`` once a new connection has settled and when a
        settled one closes (with ``at_once``: on every change as it happens; peer_watch.py);
        returns the call that stops it (call it in ``on_stop``)."""
        ...

    def has(self, family: str) -> bool:
        """Whether the family called ``family`` is installed on this node."""
        ...

    @property
    def storage(self) -> StorageClient: ...

    @property
    def naming(self) -> NamingClient: ...

    @property
    def auth(self) -> AuthClient: ...

    @property
    def dcs(self) -> DcsClient: ...

    @property
    def rendezvous(self) -> RendezvousApi: ...

    @property
    def routing(self) -> RoutingClient: ...
