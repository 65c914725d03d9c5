"""Announcing: what a pin's background DHT announcement lets a caller wait for, and learn."""

import asyncio

from peerkit.blocks import make_block
from peerkit.storage.providing import Announcing

A, B = make_block({"a": 1}).cid, make_block({"b": 2}).cid


async def test_nothing_pending_answers_at_once():
    assert await Announcing().wait([A, B], timeout=0)


async def test_a_wait_ends_when_every_pending_root_was_announced():
    announcing = Announcing()
    announcing.queued(A)
    announcing.queued(B)
    waiter = asyncio.ensure_future(announcing.wait([A, B], timeout=10))
    announcing.tried(A, reached=True)
    await asyncio.sleep(0)  # one loop turn: the waiter still waits for B
    assert not waiter.done()
    announcing.tried(B, reached=True)
    assert await waiter


async def test_an_announcement_no_peer_took_is_reported_not_passed_off_as_made():
    announcing = Announcing()
    announcing.queued(A)
    announcing.queued(B)
    waiter = asyncio.ensure_future(announcing.wait([A, B], timeout=10))
    await asyncio.sleep(0)  # the waiter waits
    announcing.tried(A, reached=True)
    announcing.tried(B, reached=False)  # no peer took it (or the DHT refused)
    assert not await waiter
    assert not await announcing.wait([B], timeout=0)  # asked after the try: still told
    assert await announcing.wait([A], timeout=0)
    announcing.tried(B, reached=True)  # the next round reaches a peer
    assert await announcing.wait([A, B], timeout=0)


async def test_a_root_queued_twice_is_one_announcement_and_the_timeout_is_reported():
    announcing = Announcing()
    announcing.queued(A)
    announcing.queued(A)
    assert not await announcing.wait([A], timeout=0.01)
    announcing.tried(A, reached=True)
    assert await announcing.wait([A], timeout=0)


async def test_failures_of_roots_no_longer_pinned_are_forgotten():
    announcing = Announcing()
    announcing.tried(A, reached=False)
    announcing.tried(B, reached=False)
    announcing.only_pinned([B])  # A was unpinned meanwhile
    assert await announcing.wait([A], timeout=0)
    assert not await announcing.wait([B], timeout=0)
