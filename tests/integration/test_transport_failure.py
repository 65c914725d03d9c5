"""When the libp2p runtime stops on its own, the node fails loudly instead of looking healthy."""

from __future__ import annotations

import asyncio
import struct

import pytest

from peerkit import Node, PeerConfig
from peerkit.errors import TransportError
from peerkit.gateway.app import is_ready

pytestmark = pytest.mark.libp2p


async def test_a_dead_libp2p_runtime_fails_the_node():
    node = Node(PeerConfig(name="doomed"))
    await node.start()
    assert is_ready(node)
    transport = node.transport
    # what any uncaught failure inside py-libp2p's nursery does: the host's run ends
    transport.bridge.run_sync_soon(transport._host_scope.cancel)
    await asyncio.wait_for(node.wait_stopped(), 10)
    assert isinstance(node.failure, TransportError)
    assert "libp2p runtime stopped" in str(node.failure)
    assert not is_ready(node)


async def test_a_failing_stream_handler_costs_one_stream_not_the_runtime(make_nodes):
    a, b = await make_nodes(2, "libp2p")

    def boom(channel, env):
        raise RuntimeError("a bug in the router")

    real = b.router.on_envelope
    b.router.on_envelope = boom  # type: ignore[method-assign]
    channel = await a.transport.channel(b.peer_id)
    from peerkit.storage.messages import PinLs
    from peerkit.wire import REQUEST, encode_envelope

    channel.send(encode_envelope(REQUEST, 1, PinLs()))
    deadline = asyncio.get_running_loop().time() + 10
    while b.transport.stats()["internal_errors"] == 0 or not channel.closed:
        assert asyncio.get_running_loop().time() < deadline, "the stream was never reset"
        await asyncio.sleep(0.01)
    b.router.on_envelope = real  # type: ignore[method-assign]
    reply = await a.request(b.peer_id, PinLs(), timeout=10)
    assert reply.pins == []
    assert b.failure is None and b.running


async def test_a_write_cancelled_as_its_turn_comes_costs_no_connection(make_nodes):
    """A writer cancelled just as it is handed the connection's write lock (a channel closing
    while its write loop waits to write, a request timing out) must not spend a Noise nonce
    without sending the frame: the peer would fail to decrypt everything after it and drop the
    whole connection, every stream on it."""
    import trio
    from libp2p.peer.id import ID
    from libp2p.stream_muxer.yamux.yamux import FLAG_SYN, TYPE_PING, YAMUX_HEADER_FORMAT

    from peerkit.storage.messages import PinLs

    a, b = await make_nodes(2, "libp2p")
    await a.request(b.peer_id, PinLs(), timeout=10)
    (conn,) = a.transport._host.get_network().connections[ID.from_base58(b.peer_id)]
    muxed = conn.muxed_conn
    ping = struct.pack(YAMUX_HEADER_FORMAT, 0, TYPE_PING, FLAG_SYN, 0, 4242)

    async def cancel_the_writer_as_the_lock_is_handed_over() -> None:
        lock = muxed._write_lock
        await lock.acquire()
        writing = trio.CancelScope()

        async def write() -> None:
            with writing:
                await muxed._write_frame(ping)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            while lock.statistics().tasks_waiting == 0:
                await trio.sleep(0)
            lock.release()  # the writer holds the lock now ...
            writing.cancel()  # ... and is cancelled before it runs

    await a.transport.bridge.call(cancel_the_writer_as_the_lock_is_handed_over)
    reply = await a.request(b.peer_id, PinLs(), timeout=10)
    assert reply.pins == []
    assert a.transport.stats()["internal_errors"] == 0
