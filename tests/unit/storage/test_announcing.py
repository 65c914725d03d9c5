"""Announcing: what a pin's background DHT announcement lets a caller wait for."""

import asyncio

from peerkit.blocks import make_block
from peerkit.storage.providing import Announcing

A, B = make_block({"a": 1}).cid, make_block({"b": 2}).cid


async def test_nothing_pending_answers_at_once():
    assert await Announcing().wait([A, B], timeout=0)


async def test_a_wait_ends_when_every_pending_root_was_tried():
    announcing = Announcing()
    announcing.queued(A)
    announcing.queued(B)
    waiter = asyncio.ensure_future(announcing.wait([A, B], timeout=10))
    announcing.tried(A)
    await asyncio.sleep(0)  # one loop turn: the waiter still waits for B
    assert not waiter.done()
    announcing.tried(B)
    assert await waiter


async def test_a_root_queued_twice_is_one_announcement_and_the_timeout_is_reported():
    announcing = Announcing()
    announcing.queued(A)
    announcing.queued(A)
    assert not await announcing.wait([A], timeout=0.01)
    announcing.tried(A)
    assert await announcing.wait([A], timeout=0)
