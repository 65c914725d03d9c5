"""A peerkit session stream over py-libp2p: framed, batched writes, bounded reads.

Writes are queued on the asyncio side and batched by a trio writer task; reads are split into
frames by ``FrameDecoder`` and handed to the router without waiting on it. What a stream may
cost is bounded here: reply bytes owed to the peer (``Guards``), a frame that has started must
finish in time, and a stream idle both ways is closed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import trio
from libp2p.exceptions import BaseLibp2pError

from ..errors import FrameTruncated, PeerDisconnected, PeerkitError, WireError
from ..wire import FrameDecoder, decode_envelope, encode_frame
from ._yamux_write import write_to
from .base import Channel, Inbound

if TYPE_CHECKING:
    from .libp2p import Libp2pTransport

_READ_CHUNK = 256 * 1024
_HIGH_WATER = 1024 * 1024  # queued outbound bytes above which senders wait (drain)
_MAX_BATCH = 256 * 1024  # bytes joined into one stream write
#: what py-libp2p and trio raise when a stream or connection goes away
DISCONNECT_ERRORS = (BaseLibp2pError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class Libp2pChannel(Channel):
    """A session stream. Writes are queued on the asyncio side and batched by a trio writer."""

    def __init__(self, transport: Libp2pTransport, stream: Any, peer: str, outbound: bool) -> None:
        self.transport = transport
        self.stream = stream
        self.peer = peer
        self.outbound = outbound
        #: opened over a relayed connection (let go when a direct one comes up)
        self.relayed = False
        self._out: deque[bytes] = deque()
        self._out_bytes = 0
        self._wake = trio.Event()
        self._writer_idle = False
        self._closed = False
        self._drainers: list[asyncio.Future[None]] = []

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_bytes(self) -> int:
        return self._out_bytes

    def send(self, body: bytes) -> None:
        if self._closed:
            raise PeerDisconnected(f"channel to {self.peer} is closed", peer=self.peer)
        frame = encode_frame(body)
        if not self.outbound:
            # What we owe a peer on streams it opened (replies) is bounded per peer: the router
            # answers "busy" past the budget; a peer that still does not read is cut off here.
            queued = self.transport.guards.queued_for(self.peer)
            if queued + len(frame) > self.transport.guards.hard_queue_cap:
                self.transport.guards.refused["slow_reader"] += 1
                self.reset()
                raise PeerDisconnected(
                    f"{self.peer} does not read its replies ({queued} bytes waiting): stream reset",
                    peer=self.peer,
                )
            self.transport.guards.account(self.peer, len(frame))
        self._out.append(frame)
        self._out_bytes += len(frame)
        if self._writer_idle:
            self._writer_idle = False
            # Set directly, from asyncio too: guest mode shares this thread with trio, and
            # synchronous trio calls from the host are safe there (trio PR #1551); a wake-up
            # with no trio batch scheduled makes trio schedule one. TrioToken.run_sync_soon
            # cost a socket write and a task step more per message.
            self._wake.set()

    async def drain(self) -> None:
        while self._out_bytes > _HIGH_WATER and not self._closed:
            fut = asyncio.get_running_loop().create_future()
            self._drainers.append(fut)
            await fut
        if self._closed:
            raise PeerDisconnected(f"channel to {self.peer} is closed", peer=self.peer)

    def reset(self) -> None:
        if not self._closed:
            self._mark_closed()
            self.transport.bridge.run_sync_soon(self.transport.spawn, self._reset)

    async def _reset(self) -> None:
        with trio.move_on_after(1):
            await self.stream.reset()

    # --- trio side ------------------------------------------------------------------------

    async def run(self, inbound: Inbound) -> None:
        """Read and write until the stream ends; then report the channel closed, once."""
        error: PeerkitError | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write_loop)
                error = await self._read_loop(inbound)
                nursery.cancel_scope.cancel()
        except* DISCONNECT_ERRORS as group:
            error = PeerDisconnected(
                f"stream to {self.peer} failed: {group.exceptions[0]!r}", peer=self.peer
            )
        finally:
            self._mark_closed()
            if error is not None and isinstance(error, WireError):
                with trio.move_on_after(1) as cleanup:
                    cleanup.shield = True
                    await self.stream.reset()
            else:
                with trio.move_on_after(1) as cleanup:
                    cleanup.shield = True
                    try:
                        await self.stream.close()
                    except DISCONNECT_ERRORS:
                        pass
            self.transport._forget(self)
            inbound.on_channel_closed(self, error)

    async def _read_loop(self, inbound: Inbound) -> PeerkitError | None:
        decoder = FrameDecoder(self.transport.max_frame)
        limits = self.transport.limits
        frame_started: float | None = None  # when the first byte of the frame being read came
        while True:
            if decoder.in_frame:
                if frame_started is None:
                    frame_started = trio.current_time()
                # slack, plus time for the frame at 64 KiB/s (a slow home uplink); the length
                # counts once its prefix is in, however the prefix was split
                deadline = frame_started + limits.frame_timeout + decoder.frame_length / 65536
                wait = deadline - trio.current_time()
            else:
                frame_started = None
                wait = limits.idle_stream_timeout
            data = None
            with trio.move_on_after(max(wait, 0)):
                try:
                    data = await self.stream.read(_READ_CHUNK)
                except EOFError:
                    data = b""
                except DISCONNECT_ERRORS as exc:
                    return PeerDisconnected(f"{self.peer} went away: {exc!r}", peer=self.peer)
            if data is None:  # timed out
                if decoder.in_frame:
                    stalled = FrameTruncated(
                        f"a frame of {decoder.frame_length} bytes was not completed in time"
                    )
                    self.transport.log_wire_error(self.peer, stalled)
                    return stalled
                if self._out or inbound.channel_busy(self):
                    continue  # quiet, but a request or reply is still on its way
                self.transport.guards.refused["idle_stream"] += 1
                return None  # idle: close it (the peer opens a new one when it needs one)
            try:
                if not data:
                    decoder.close()
                    return None
                for body in decoder.feed(data):
                    inbound.on_envelope(self, decode_envelope(body))
            except WireError as exc:
                self.transport.log_wire_error(self.peer, exc)
                return exc
            except Exception as exc:
                # A bug on our side must cost one stream, never the libp2p runtime: this
                # runs inside py-libp2p's nursery, where an exception ends every connection.
                return self.transport.internal_error("stream", self.peer, exc)

    async def _write_loop(self) -> None:
        out = self._out
        while True:
            if not out:
                self._writer_idle = True
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            batch = []
            size = 0
            while out and size < _MAX_BATCH:
                frame = out.popleft()
                batch.append(frame)
                size += len(frame)
            await write_to(self.stream, b"".join(batch) if len(batch) > 1 else batch[0])
            if self._closed:
                return  # reset meanwhile: _mark_closed already let go of these bytes
            self._out_bytes -= size
            if not self.outbound:
                self.transport.guards.account(self.peer, -size)
            if self._drainers and self._out_bytes <= _HIGH_WATER:
                self._release_drainers()

    def _release_drainers(self) -> None:
        drainers, self._drainers = self._drainers, []
        for fut in drainers:
            if not fut.done():
                fut.set_result(None)

    def _mark_closed(self) -> None:
        if not self.outbound and self._out_bytes:
            self.transport.guards.account(self.peer, -self._out_bytes)
        self._closed = True
        self._out.clear()
        self._out_bytes = 0
        self._release_drainers()
