"""A yamux frame whose turn to be written has come is written whole, or its connection closes.

py-libp2p's ``Yamux._write_frame`` takes the connection's write lock, then encrypts the frame
(Noise: the send nonce advances) and sends it. A trio cancellation that lands after the lock is
handed over but before the bytes are out (at the socket send's first checkpoint) spends the
nonce and sends nothing; one between two partial sends leaves half a frame on the wire. Either
way the peer's next decryption fails ("Failed authentication of message") and it drops the
connection with every stream on it. Cancelling a writer is ordinary here: a channel whose read
loop ends (a peer's malformed envelope, an idle stream, a bug caught at the boundary) cancels
its write loop, which may be waiting for that lock at the moment (two streams failing together
on one connection lost it, tests/integration/test_transport_failure.py).

So once the lock is ours, the write is shielded from cancellation from outside, under a
deadline of its own for a peer that has stopped reading altogether (the frame timeout's rule:
slack, plus the frame at 64 KiB/s, a slow home uplink). Past that deadline the frame may be half
out and the connection is closed: the write fails as one on a broken connection does, and
py-libp2p's reader, finding the connection closed, tears it down as usual.

The replacement also leaves out py-libp2p's per-frame debug line, whose f-string (and a header
unpack to fill it) was built for every frame whether debug logging was on or not.
"""

from __future__ import annotations

import trio
from libp2p.stream_muxer.exceptions import MuxedConnUnavailable
from libp2p.stream_muxer.yamux.yamux import Yamux

#: how long a frame may take to go out beyond its size at 64 KiB/s, once its turn has come
WRITE_SLACK_SECONDS = 10.0


async def _write_frame_whole(self: Yamux, data: bytes) -> None:
    async with self._write_lock:
        deadline = trio.current_time() + WRITE_SLACK_SECONDS + len(data) / 65536
        with trio.CancelScope(deadline=deadline, shield=True) as writing:
            await self.secured_conn.write(data)
    if writing.cancelled_caught:
        with trio.CancelScope(deadline=trio.current_time() + 1, shield=True):
            try:
                await self.secured_conn.close()
            except Exception:  # closing a connection that is already failing: best effort
                pass
        raise MuxedConnUnavailable(
            f"a {len(data)}-byte frame was not written in time: the peer does not read; "
            "connection closed"
        )
    await trio.lowlevel.checkpoint()


def install() -> None:
    """Write every yamux frame of this process with :func:`_write_frame_whole`."""
    Yamux._write_frame = _write_frame_whole  # type: ignore[method-assign]
