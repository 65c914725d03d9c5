"""Who hears of connections opening and closing, and when.

What an actor does when a peer connects (catch up on revocations and documents, refresh the
routing table, push it the name records this peer keeps, collect mail) is background work: no
caller waits for it. Started the moment the connection opens, it competed with the
connection's own set-up and with the first request its user sent, and that first reply came
~18 ms later (connect + first reply 61 against 43 ms without those chores, bench_libp2p).
So a connection is reported to listeners once it has *settled*: when its first request has
been answered, either way (the router calls :meth:`PeerWatch.exchanged`), or ``SETTLE_SECONDS``
after it opened, if it is still open, whichever comes first. The first exchange is usually the
request the connect was for; a connection the DHT opened for a lookup settles with that
lookup's reply, so gossip over it (whose hello waits for the same moment) is not held back.

Listeners hear of each peer in pairs: "connected" once settled, then "disconnected" (the
transports report a peer's first connection and its last, not a second one beside it); a
connection that closes before it settles is not reported at all. The few parts of the node that
need every change as it happens listen with ``at_once=True``: redialling a bootstrap peer, and
the dialler's greeting into the routing table (it rides the session stream the first request
opens; see routing/actor.py).
The wait is real time (the event loop's), not the node's clock: it is there for the CPU that
setting up a connection takes, which a test's FakeClock does not model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

#: how long after a connection opens before its listeners hear of it
SETTLE_SECONDS = 0.1

PeerListener = Callable[[str, bool], None]


class PeerWatch:
    def __init__(self, settle: float = SETTLE_SECONDS, log: Any = None) -> None:
        self.settle = settle
        self.log = log if log is not None else structlog.get_logger("peerkit.peer_watch")
        #: told once a connection has settled, and when a settled connection closes
        self.listeners: list[PeerListener] = []
        #: told of every change as it happens
        self.at_once: list[PeerListener] = []
        self._settling: dict[str, asyncio.TimerHandle] = {}
        self._reported: set[str] = set()
        self._dialled: set[str] = set()

    def dialled(self, peer: str) -> bool:
        """Whether this side opened its (first) connection to ``peer``."""
        return peer in self._dialled

    def watch(self, listener: PeerListener, *, at_once: bool = False) -> Callable[[], None]:
        """Add ``listener``; returns the call that removes it."""
        group = self.at_once if at_once else self.listeners
        group.append(listener)

        def unwatch() -> None:
            if listener in group:
                group.remove(listener)

        return unwatch

    def changed(self, peer: str, connected: bool, *, dialled: bool = False) -> None:
        """The transport saw a connection to ``peer`` open (``dialled``: by this side) or
        close."""
        if connected and dialled:
            self._dialled.add(peer)
        else:
            self._dialled.discard(peer)
        self._call(self.at_once, peer, connected)
        pending = self._settling.pop(peer, None)
        if pending is not None:
            pending.cancel()
        if connected:
            if peer not in self._reported:
                loop = asyncio.get_running_loop()
                self._settling[peer] = loop.call_later(self.settle, self._settled, peer)
        elif peer in self._reported:
            self._reported.discard(peer)
            self._tell(peer, False)

    def exchanged(self, peer: str) -> None:
        """A request and its answer have gone between us and ``peer``: its connection has
        settled (the first exchange, usually the request the connect was for, is over)."""
        pending = self._settling.pop(peer, None)
        if pending is not None:
            pending.cancel()
            self._settled(peer)

    def _settled(self, peer: str) -> None:
        self._settling.pop(peer, None)
        self._reported.add(peer)
        self._tell(peer, True)

    def _tell(self, peer: str, connected: bool) -> None:
        self._call(self.listeners, peer, connected)

    def _call(self, listeners: list[PeerListener], peer: str, connected: bool) -> None:
        # One listener's bug must not keep the news from the others (nor, for a settled
        # connection, surface in the event loop's timer callback, far from its cause).
        for listener in list(listeners):
            try:
                listener(peer, connected)
            except Exception as exc:
                self.log.error(
                    "peer_watch.listener_failed",
                    listener=getattr(listener, "__qualname__", repr(listener)),
                    remote=peer,
                    connected=connected,
                    error=f"{type(exc).__name__}: {exc}",
                )

    def close(self) -> None:
        """Forget connections not yet reported (the node is stopping)."""
        for pending in self._settling.values():
            pending.cancel()
        self._settling.clear()
        self._reported.clear()
        self._dialled.clear()
