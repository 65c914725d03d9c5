"""The asyncio <-> trio bridge and the libp2p-only behaviours of the transport."""

import asyncio

import pytest
import trio

from peerkit import DialFailed
from peerkit._transport.bridge import TrioGuest
from tests.messages import Echo, EchoActor, Hold

pytestmark = pytest.mark.libp2p


async def test_cancelled_calls_cancel_their_trio_tasks():
    guest = await TrioGuest.acquire()
    try:
        started = 0

        async def forever() -> None:
            nonlocal started
            started += 1
            await trio.sleep_forever()

        calls = [guest.call(forever) for _ in range(1000)]
        while started < 1000:
            await asyncio.sleep(0.001)
        assert guest.live_calls == 1000
        for c in calls:
            c.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while guest.live_calls:
            assert loop.time() < deadline, f"{guest.live_calls} trio tasks left behind"
            await asyncio.sleep(0.001)
    finally:
        await guest.release()


async def test_trio_errors_arrive_as_exceptions():
    guest = await TrioGuest.acquire()
    try:

        async def fail() -> None:
            await trio.sleep(0)
            raise ValueError("from trio")

        with pytest.raises(ValueError, match="from trio"):
            await guest.call(fail)
    finally:
        await guest.release()


async def test_dial_failure_is_typed_and_quiet(make_nodes, capfd):
    (a,) = await make_nodes(1, "libp2p")
    bad = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRrk3TZBSE5NWCkcReFfkL86VYQfgKpd3Y4E7cVncrco6"
    with pytest.raises(DialFailed):
        await a.connect(bad, timeout=5)
    with pytest.raises(DialFailed, match="cannot dial 'not an address'") as info:
        await a.connect("not an address")
    assert "/p2p/" in (info.value.hint or "")
    out, err = capfd.readouterr()
    assert "ERROR" not in out + err  # py-libp2p's own error logging does not leak


async def test_slow_actor_does_not_stall_the_stream(make_nodes):
    """yamux resets a stream whose reader stalls 5 s; our reader never waits on an actor."""
    a, b = await make_nodes(2, "libp2p", actors=[EchoActor])
    slow = asyncio.ensure_future(b.request(a.peer_id, Hold(seconds=6), timeout=20))
    queued = [
        asyncio.ensure_future(b.request(a.peer_id, Echo(text=str(i)), timeout=20))
        for i in range(20)
    ]
    assert (await slow).text == "held"
    assert [r.text for r in await asyncio.gather(*queued)] == [str(i) for i in range(20)]
    assert b.transport.stats()["wire_errors"] == 0


async def test_a_round_trip_is_two_yamux_frames_and_credit_still_flows(make_nodes, monkeypatch):
    """py-libp2p's yamux sent a window update after nearly every other small message (three
    frames a round trip); peerkit grants credit once half the window is used, as go-yamux.
    Credit must still come: messages far past the initial 256 KiB window, both ways."""
    import struct
    from collections import Counter

    from libp2p.stream_muxer.yamux import yamux

    a, b = await make_nodes(2, "libp2p", actors=[EchoActor])
    await b.request(a.peer_id, Echo(text="warm"))  # the stream and its first window grants
    frames: list[tuple[int, int]] = []  # (type, stream id)
    write_frame = yamux.Yamux._write_frame

    async def counting(self, data: bytes) -> None:  # type: ignore[no-untyped-def]
        _, kind, _, stream, _ = struct.unpack(yamux.YAMUX_HEADER_FORMAT, data[:12])
        # the node's own chores with a new peer (a revocation catch-up, a routing greeting)
        # may share the session stream: only the test's messages are counted as data
        if kind != yamux.TYPE_DATA or b"test.Echo" in data:
            frames.append((kind, stream))
        await write_frame(self, data)

    monkeypatch.setattr(yamux.Yamux, "_write_frame", counting)
    for i in range(200):
        assert (await b.request(a.peer_id, Echo(text=str(i)))).text == str(i)
    # the session stream is the one that carried the requests (identify etc. may add others)
    session = Counter(s for kind, s in frames if kind == yamux.TYPE_DATA).most_common(1)[0][0]
    on_session = [kind for kind, s in frames if s == session]
    updates = on_session.count(yamux.TYPE_WINDOW_UPDATE)
    assert on_session.count(yamux.TYPE_DATA) == 400
    assert updates <= 2, f"{updates} window updates for 200 round trips"

    blob = bytes(range(256)) * 4096  # 1 MiB each way, four times: the window must be refilled
    for _ in range(4):
        assert (await b.request(a.peer_id, Echo(text="big", blob=blob), timeout=30)).blob == blob
    granted = [k for k, s in frames if s == session and k == yamux.TYPE_WINDOW_UPDATE]
    assert len(granted) > updates  # credit was granted


async def test_a_call_on_a_stopped_bridge_fails_typed_and_at_once():
    from peerkit.errors import TransportClosed

    guest = await TrioGuest.acquire()
    assert await guest.call(trio.sleep, 0) is None  # started directly on the loop's thread
    await guest.release()
    with pytest.raises(TransportClosed):
        await guest.call(trio.sleep, 0)
