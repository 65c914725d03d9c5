"""Attacks against a stock peer process over real libp2p; afterwards a *new* client is served.

Each test states the attack, runs it, and checks what must keep holding: the victim process is
up and ready, a new client connects and gets answers, and nothing unauthorised took effect.
"""

from __future__ import annotations

import pytest

from peerkit.testing import wait_for
from peerkit.wire import EVENT, PUBLISH, REQUEST
from tests.abuse.attack import (
    client,
    gateway_json,
    metric,
    raw_envelope,
    served,
    victim,
    wait_until,
)

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

DEEP = b"\x91" * 1_000 + b"\x00"  # 1,000 nested one-element arrays: ~1 KB


async def test_nested_frame_on_a_stream_and_on_gossip_does_not_kill_the_peer(tmp_path):
    async with victim(tmp_path) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)

        async def rejected(n: int) -> None:
            async def counted() -> bool:
                return await metric(v, "peerkit_wire_errors_total") >= n

            await wait_until(counted, what=f"the victim to count {n} rejected frames")

        # each frame resets the stream it came on, so the next one goes on a new stream (once
        # the attacker has seen the reset: before it, channel() still hands out the old one)
        for n, (kind, tag) in enumerate([(REQUEST, "x.unknown"), (EVENT, "storage.PinRm")], 1):
            channel = await attacker.transport.channel(v.peer_id)
            channel.send(raw_envelope(kind, tag, DEEP, rid=1))
            await rejected(n)
            await wait_for(
                lambda ch=channel: ch.closed, what="the attacker to see its stream reset"
            )
        await attacker.subscribe("peerkit.names")
        await attacker.wait_for_subscribers("peerkit.names")
        await attacker.transport.publish("peerkit.names", raw_envelope(PUBLISH, "x.y", DEEP))

        async def gossip_dropped() -> bool:
            return await metric(v, 'peerkit_limited_total{reason="gossip_dropped_invalid"}') >= 1

        # gossip validation drops it before delivery, so it is not forwarded either
        await wait_until(gossip_dropped, what="the victim to drop the nested gossip message")
        await served(v.addr, v.peer_id)
        status, body = await gateway_json(v, "/health/ready")
        assert (status, body["status"]) == (200, "ready")
        assert await metric(v, "peerkit_internal_errors_total") == 0
    assert v.proc is not None and v.proc.returncode == 0
    assert b"wire.rejected" in v.stderr
