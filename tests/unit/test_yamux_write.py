"""A yamux frame, once its turn has come, goes out whole or its connection closes
(peerkit/_transport/_yamux_write.py). Run on trio's mock clock: no real waiting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio
import trio.testing
from libp2p.stream_muxer.exceptions import MuxedConnUnavailable

from peerkit._transport._yamux_write import WRITE_SLACK_SECONDS, _write_frame_whole


class SecuredConn:
    """Records what was written; each write checkpoints as a socket send does, or stalls like
    one to a peer that stopped reading."""

    def __init__(self, *, stalls: bool = False) -> None:
        self.stalls = stalls
        self.written: list[bytes] = []
        self.closed = False

    async def write(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        if self.stalls:
            await trio.sleep_forever()
        self.written.append(data)

    async def close(self) -> None:
        self.closed = True


def _muxed(conn: SecuredConn) -> SimpleNamespace:
    return SimpleNamespace(_write_lock=trio.Lock(), secured_conn=conn)


def _run(scenario) -> None:
    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_writer_cancelled_as_the_lock_is_handed_over_still_writes_its_frame() -> None:
    conn = SecuredConn()
    muxed = _muxed(conn)

    async def scenario() -> None:
        await muxed._write_lock.acquire()
        writing = trio.CancelScope()

        async def write() -> None:
            with writing:
                await _write_frame_whole(muxed, b"frame")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            await trio.testing.wait_all_tasks_blocked()
            muxed._write_lock.release()  # the writer holds the lock now ...
            writing.cancel()  # ... and is cancelled before it runs

    _run(scenario)
    assert conn.written == [b"frame"]
    assert not conn.closed


def test_a_writer_cancelled_while_waiting_for_its_turn_writes_nothing() -> None:
    conn = SecuredConn()
    muxed = _muxed(conn)

    async def hold_the_lock(task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with muxed._write_lock:
            task_status.started()
            await trio.sleep(2)

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(hold_the_lock)
            with trio.move_on_after(1):
                await _write_frame_whole(muxed, b"frame")

    _run(scenario)
    assert conn.written == []
    assert not conn.closed


def test_a_frame_that_cannot_go_out_in_time_closes_the_connection() -> None:
    conn = SecuredConn(stalls=True)
    muxed = _muxed(conn)
    failures: list[BaseException] = []
    finished_at: list[float] = []

    async def scenario() -> None:
        try:
            await _write_frame_whole(muxed, bytes(65536))
        except MuxedConnUnavailable as exc:
            failures.append(exc)
        finished_at.append(trio.current_time())

    _run(scenario)
    assert conn.closed
    assert len(failures) == 1 and "not written in time" in str(failures[0])
    # slack plus the frame at 64 KiB/s
    assert finished_at[0] == pytest.approx(WRITE_SLACK_SECONDS + 1, abs=0.01)
