"""When the libp2p runtime stops on its own, the node fails loudly instead of looking healthy."""

from __future__ import annotations

import asyncio

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
