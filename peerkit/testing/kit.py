"""Building blocks of the test kit: peer sets, fake dependencies, event waiters (no sleeps)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog

from ..actor import Actor
from ..config import PeerConfig
from ..errors import PeerkitError
from ..messages import Event, Message
from ..node import Node

A = TypeVar("A", bound=Actor)


class FakeClock:
    """A clock for tests that moves only when told (``Node(config, clock=FakeClock())``):
    expiry, TTLs and block ages without sleeping."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01 UTC
        self._wall = start
        self._mono = 1_000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        """Returns once :meth:`advance` has moved the clock ``seconds`` on."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + seconds, wake))
        try:
            await wake
        finally:
            self._sleepers = [s for s in self._sleepers if s[1] is not wake]

    def sleeping(self, seconds: float | None = None) -> int:
        """How many tasks wait on this clock (a test can wait for a timer to be set); with
        ``seconds``, only those due that long from now (one timer among a node's many)."""
        return sum(
            not f.done() and (seconds is None or abs(due - self._mono - seconds) < 1e-6)
            for due, f in self._sleepers
        )

    def advance(self, seconds: float) -> None:
        """Move both clocks on, and wake every sleeper whose time has come."""
        self._wall += seconds
        self._mono += seconds
        for due, wake in self._sleepers:
            if due <= self._mono and not wake.done():
                wake.set_result(None)


class WaitTimeout(PeerkitError, AssertionError):
    """A waiter gave up; the message says what it was waiting for."""

    code = "wait_timeout"


async def wait_for(
    predicate: Callable[[], Any] | Callable[[], Awaitable[Any]],
    *,
    timeout: float = 5.0,
    what: str = "the condition",
) -> Any:
    """Wait until ``predicate()`` is truthy (checked on every loop turn); return its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.001)


async def wait_handled(node: Node, actor: str, count: int = 1, *, timeout: float = 5.0) -> None:
    """Wait until ``actor`` on ``node`` has finished handling ``count`` more messages."""

    def handled() -> int:
        stats: Any = node.supervisor.stats()
        return next(int(s["handled"]) for s in stats if s["name"] == actor)

    target = handled() + count
    await wait_for(
        lambda: handled() >= target,
        timeout=timeout,
        what=f"{actor} on {node.config.name} to handle {count} message(s)",
    )


async def refused_one_way(
    sender: Node, receiver: Node, msg: Message, *, auth: bytes = b"", timeout: float = 5.0
) -> None:
    """Send ``msg`` from ``sender`` to ``receiver`` as a one-way event, the way an attacker
    would (``node.send`` itself refuses request types), and wait until ``receiver`` refuses
    it. A refused message never reaches an actor; WaitTimeout if it was not refused."""
    from ..messages import tag_of
    from ..wire import EVENT, encode_envelope

    tag = tag_of(type(msg))
    before = receiver.router.dropped[tag]
    channel = await sender.transport.channel(receiver.peer_id)
    channel.send(encode_envelope(EVENT, 0, msg, auth))
    await channel.drain()
    await wait_for(
        lambda: receiver.router.dropped[tag] > before,
        timeout=timeout,
        what=f"{receiver.config.name} to refuse {tag} sent one-way",
    )


@dataclass
class Published:
    event: Event
    topic: str | None


@dataclass
class FakeNode:
    """Stands in for ``actor.node`` when a handler is called alone: records what it publishes
    and sends, and answers requests from ``replies`` (message type -> reply or callable)."""

    name: str = "fake"
    peer_id: str = "fake-peer"
    replies: dict[type, Any] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    sent: list[tuple[str, Message]] = field(default_factory=list)
    requests: list[tuple[str, Message]] = field(default_factory=list)
    peer_listeners: list[Callable[[str, bool], None]] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)
    clock: Any = field(default_factory=lambda: FakeClock())
    log: Any = field(default_factory=lambda: structlog.get_logger().bind(peer="fake"))

    @property
    def config(self) -> PeerConfig:
        return PeerConfig(name=self.name, transport="memory")

    async def publish(self, event: Event, topic: str | None = None) -> None:
        self.published.append(Published(event, topic))

    async def send(self, peer: str, msg: Message, *, auth: bytes = b"") -> None:
        self.sent.append((peer, msg))

    async def request(
        self, peer: str, msg: Message, *, timeout: float | None = None, auth: bytes = b""
    ) -> Any:
        self.requests.append((peer, msg))
        answer = self.replies.get(type(msg))
        if answer is None:
            raise PeerkitError(
                f"FakeNode has no reply for {type(msg).__name__}",
                hint="set FakeNode(replies={MsgType: reply})",
            )
        return answer(msg) if callable(answer) else answer

    def peers(self) -> list[str]:
        return []

    def dialled(self, peer: str) -> bool:
        return False

    def addrs(self) -> list[str]:
        return []

    def has(self, family: str) -> bool:
        return False  # a fake node has no families installed

    def watch_peers(
        self, listener: Callable[[str, bool], None], *, at_once: bool = False
    ) -> Callable[[], None]:
        """Peer events never happen on a fake node; the listener is kept for tests to call."""
        self.peer_listeners.append(listener)
        return lambda: self.peer_listeners.remove(listener)

    async def subscribe(self, topic: str) -> None:
        self.subscribed.append(topic)

    def events(self, event_type: type[Event]) -> list[Event]:
        return [p.event for p in self.published if isinstance(p.event, event_type)]


def make_actor(
    actor_type: type[A] | Callable[[], A], *, node: Any = None, **dependencies: Any
) -> A:
    """An actor instance ready for direct handler calls, wired to ``node`` (a FakeNode).

    A :class:`~peerkit.service.Service` gets its ``__init__`` dependencies from
    ``dependencies`` (``make_actor(Notes, storage=fake_storage)``), else from the node's
    attribute of the same name (``FakeNode.config``...).
    """
    from ..service import Service

    fake: Any = node if node is not None else FakeNode()  # duck-types the parts of Node used
    if isinstance(actor_type, type) and issubclass(actor_type, Service):

        def provide(name: str) -> Any:
            if name in dependencies:
                return dependencies[name]
            if name == "node":
                return fake
            if hasattr(fake, name):
                return getattr(fake, name)
            raise PeerkitError(
                f"{actor_type.__name__} needs {name!r}",
                hint=f"pass it: make_actor({actor_type.__name__}, {name}=...)",
            )

        actor: Any = actor_type.factory(provide)()
    else:
        actor = actor_type(**dependencies)
    actor.node = fake
    actor.name = type(actor).__name__
    actor.log = structlog.get_logger().bind(actor=actor.name, peer="test")
    return actor


class PeerSet:
    """Started nodes, each connected to the first; stopped by ``close``."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    async def start(
        self,
        n: int,
        *,
        services: Sequence[Any] = (),
        transport: Literal["memory", "libp2p"] = "memory",
        connect: bool = True,
        **config: Any,
    ) -> list[Node]:
        from .._transport.memory import MemoryNetwork, MemoryTransport

        network = MemoryNetwork()
        started = []
        for _ in range(n):
            cfg = PeerConfig(name=f"peer{len(self.nodes)}", transport=transport, **config)
            t = (
                MemoryTransport(name=cfg.name, network=network, max_frame=cfg.max_frame_size)
                if transport == "memory"
                else None
            )
            node = Node(cfg, transport=t)
            for service in services:
                node.spawn(service)
            await node.start()
            self.nodes.append(node)
            started.append(node)
        if connect:
            for node in started[1:]:
                await node.connect(started[0].addrs()[0])
        return started

    def actor(self, node: Node, name: str) -> Actor:
        """The live instance of an actor (to inspect its state in a test)."""
        instance = node.supervisor.instance(node.actor(name))
        assert instance is not None
        return instance

    async def close(self) -> None:
        for node in reversed(self.nodes):
            await node.stop()
        self.nodes.clear()
