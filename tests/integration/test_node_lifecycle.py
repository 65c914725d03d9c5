"""A node that cannot start says why, and leaves nothing running."""

from __future__ import annotations

import asyncio

import pytest

from peerkit import Actor, Node, PeerConfig
from peerkit._transport.bridge import TrioGuest
from peerkit.config import SupervisionConfig
from peerkit.errors import SupervisorEscalation
from tests.conftest import TRANSPORTS


class NeverStarts(Actor):
    async def on_start(self) -> None:
        raise RuntimeError("the database is gone")


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_start_fails_cleanly_when_an_actor_cannot_start(kind):
    fast = SupervisionConfig(backoff=0.001)
    node = Node(PeerConfig(name="doomed", transport=kind, supervision=fast))
    node.spawn(NeverStarts)
    with pytest.raises(SupervisorEscalation, match="the database is gone"):
        await asyncio.wait_for(node.start(), 20)
    assert not node.running
    assert not node._transport_up
    await node.stop()  # idempotent after a failed start
    if kind == "libp2p":
        assert asyncio.get_running_loop() not in TrioGuest._per_loop  # the trio side is gone
