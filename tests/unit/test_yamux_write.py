"""A yamux frame, once its turn has come, goes out whole or its connection closes
(peerkit/_transport/_yamux_write.py). Run on trio's mock clock: no real waiting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio
import trio.testing
from libp2p.stream_muxer.exceptions import MuxedConnUnavailable

from peerkit._transport._yamux_write import (
    WINDOW_WAIT_SECONDS,
    WRITE_SLACK_SECONDS,
    _write_frame_whole,
    write_data,
)


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


class Conn:
    """The connection side of a yamux stream: records each frame written, and when."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.times: list[float] = []

    async def _write_frame(self, frame: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.frames.append(bytes(frame))
        self.times.append(trio.current_time())


def _stream(send_window: int) -> SimpleNamespace:
    from libp2p.stream_muxer.rw_lock import ReadWriteLock
    from libp2p.stream_muxer.yamux.yamux import YamuxStream

    stream = SimpleNamespace(
        stream_id=7,
        conn=Conn(),
        send_window=send_window,
        send_closed=False,
        closed=False,
        rw_lock=ReadWriteLock(),
        window_lock=trio.Lock(),
        fell_back=0,
        _zero_window_waits=0,
    )

    async def libp2p_write(data: bytes) -> None:  # py-libp2p's own method, counted
        stream.fell_back += 1
        await YamuxStream.write(stream, data)  # type: ignore[arg-type]

    stream.write = libp2p_write
    return stream


@pytest.mark.parametrize("size", [1, 32, 65_524, 65_525, 200_000])
def test_the_frames_are_py_libp2ps_own(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    ours, theirs = _stream(1 << 20), _stream(1 << 20)

    async def scenario() -> None:
        await write_data(ours, data)
        await theirs.write(data)

    _run(scenario)
    assert ours.conn.frames == theirs.conn.frames
    assert ours.send_window == theirs.send_window == (1 << 20) - size
    assert ours.fell_back == 0


def test_a_write_waits_for_window_and_resumes_as_the_credit_comes() -> None:
    stream = _stream(100_000)  # room for the first 64 KiB frame and part of the second
    window_lock = stream.window_lock

    async def scenario() -> None:
        async def credit_later() -> None:
            await trio.sleep(1.005)
            async with stream.window_lock:  # as py-libp2p adds a WINDOW_UPDATE's credit
                stream.send_window += 100_000

        async with trio.open_nursery() as nursery:
            nursery.start_soon(credit_later)
            await write_data(stream, bytes(131_048))

    _run(scenario)
    assert stream.fell_back == 0
    # the frames py-libp2p's writer sends: as much as the window takes, then the rest
    assert [len(f) - 12 for f in stream.conn.frames] == [65_524, 34_476, 31_048]
    assert stream.conn.times[-1] == pytest.approx(1.005)  # at the credit, not the next 10 ms
    assert stream.window_lock is window_lock  # seen through a watching lock only while waiting


def test_credit_added_without_the_lock_is_found_within_10_ms() -> None:
    stream = _stream(0)

    async def scenario() -> None:
        async def credit_later() -> None:
            await trio.sleep(0.503)
            stream.send_window += 10

        async with trio.open_nursery() as nursery:
            nursery.start_soon(credit_later)
            await write_data(stream, b"x" * 10)

    _run(scenario)
    assert 0.503 <= stream.conn.times[-1] <= 0.513


def test_a_writer_given_no_window_fails_after_5_seconds_as_py_libp2ps_does() -> None:
    from libp2p.stream_muxer.exceptions import MuxedStreamError

    stream = _stream(0)
    failed_at: list[float] = []

    async def scenario() -> None:
        with pytest.raises(MuxedStreamError, match="window update"):
            await write_data(stream, b"stuck")
        failed_at.append(trio.current_time())

    _run(scenario)
    assert failed_at == [pytest.approx(WINDOW_WAIT_SECONDS)]
    assert stream.conn.frames == []
    assert isinstance(stream.window_lock, trio.Lock)


def test_a_busy_stream_goes_py_libp2ps_way() -> None:
    stream = _stream(1 << 20)

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            await stream.window_lock.acquire()  # a window update at work on the stream
            nursery.start_soon(write_data, stream, b"hello")
            await trio.testing.wait_all_tasks_blocked()
            assert stream.conn.frames == []  # the write waits for it
            stream.window_lock.release()

    _run(scenario)
    assert stream.fell_back == 1
    assert stream.conn.frames == [bytes.fromhex("000000000000000700000005") + b"hello"]


def test_a_closed_stream_is_refused_as_py_libp2p_refuses_it() -> None:
    from libp2p.stream_muxer.exceptions import MuxedStreamError

    stream = _stream(1 << 20)
    stream.send_closed = True
    with pytest.raises(MuxedStreamError):
        _run(lambda: write_data(stream, b"late"))
    assert stream.conn.frames == []


def test_two_writers_waiting_for_window_both_resume_and_the_lock_is_put_back() -> None:
    stream = _stream(0)
    window_lock = stream.window_lock

    async def scenario() -> None:
        async def credit_later() -> None:
            await trio.sleep(1.005)
            async with stream.window_lock:
                stream.send_window += 20

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write_data, stream, b"a" * 10)
            nursery.start_soon(write_data, stream, b"b" * 10)
            nursery.start_soon(credit_later)

    _run(scenario)
    assert sorted(f[12:] for f in stream.conn.frames) == [b"a" * 10, b"b" * 10]
    assert stream.conn.times == [pytest.approx(1.005)] * 2
    assert stream.window_lock is window_lock
