"""Connections are reported to listeners once settled, in pairs; at-once listeners hear all."""

from __future__ import annotations

import asyncio

from peerkit.peer_watch import PeerWatch


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.changed = asyncio.Event()

    def __call__(self, peer: str, connected: bool) -> None:
        self.calls.append((peer, connected))
        self.changed.set()

    async def until(self, call: tuple[str, bool]) -> None:
        while call not in self.calls:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)


async def test_a_connection_is_reported_once_it_has_settled() -> None:
    watch, heard = PeerWatch(settle=0.01), Heard()
    watch.watch(heard)
    watch.changed("p1", True)
    assert heard.calls == []  # not while the connection is being set up
    await heard.until(("p1", True))
    watch.changed("p1", True)  # a second connection to the same peer: already reported
    watch.changed("p1", False)
    assert heard.calls == [("p1", True), ("p1", False)]


async def test_a_connection_closed_before_it_settles_is_never_reported() -> None:
    watch, heard = PeerWatch(settle=0.01), Heard()
    watch.watch(heard)
    watch.changed("gone", True)
    watch.changed("gone", False)
    watch.changed("stays", True)  # settles after "gone" would have
    await heard.until(("stays", True))
    assert heard.calls == [("stays", True)]


async def test_at_once_listeners_hear_every_change_as_it_happens() -> None:
    watch, settled, at_once = PeerWatch(settle=60), Heard(), Heard()
    watch.watch(settled)
    unwatch = watch.watch(at_once, at_once=True)
    watch.changed("p1", True)
    watch.changed("p1", False)
    assert at_once.calls == [("p1", True), ("p1", False)]
    assert settled.calls == []
    unwatch()
    watch.changed("p2", True)
    assert at_once.calls == [("p1", True), ("p1", False)]
    watch.close()  # the pending report is dropped with the watch


async def test_a_stopped_watch_reports_nothing_more() -> None:
    watch, heard = PeerWatch(settle=0.01), Heard()
    watch.watch(heard)
    watch.changed("early", True)
    watch.close()
    other = PeerWatch(settle=0.01)
    sentinel = Heard()
    other.watch(sentinel)
    other.changed("later", True)
    await sentinel.until(("later", True))  # "early" would have settled by now
    assert heard.calls == []


async def test_it_knows_which_side_dialled() -> None:
    watch = PeerWatch(settle=60)
    watch.changed("out", True, dialled=True)
    watch.changed("in", True)
    assert watch.dialled("out") and not watch.dialled("in")
    watch.changed("out", False)
    assert not watch.dialled("out")
    watch.close()


async def test_a_first_exchange_settles_the_connection_at_once() -> None:
    watch, heard = PeerWatch(settle=60), Heard()
    watch.watch(heard)
    watch.changed("p1", True)
    watch.exchanged("p1")  # its first request has been answered
    assert heard.calls == [("p1", True)]
    watch.exchanged("p1")  # later exchanges change nothing
    assert heard.calls == [("p1", True)]


async def test_a_failing_listener_is_logged_and_the_others_still_hear() -> None:
    failures: list[dict] = []

    class Log:
        def error(self, event: str, **fields) -> None:
            failures.append({"event": event, **fields})

    def broken(peer: str, connected: bool) -> None:
        raise RuntimeError("a bug in a listener")

    watch, heard, at_once = PeerWatch(settle=0.01, log=Log()), Heard(), Heard()
    watch.watch(broken)
    watch.watch(heard)
    watch.watch(broken, at_once=True)
    watch.watch(at_once, at_once=True)
    watch.changed("p1", True)
    assert at_once.calls == [("p1", True)]
    await heard.until(("p1", True))
    assert [f["event"] for f in failures] == ["peer_watch.listener_failed"] * 2
    assert failures[0]["error"] == "RuntimeError: a bug in a listener"
    assert failures[0]["listener"].endswith("broken") and failures[0]["remote"] == "p1"
    watch.close()
