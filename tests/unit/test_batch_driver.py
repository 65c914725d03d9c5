"""How trio's guest ticks share the asyncio loop (peerkit/_transport/bridge.py, _BatchDriver):
several back to back while asyncio has nothing ready, one at a time when it has."""

import asyncio

import pytest

from peerkit._transport.bridge import _BatchDriver


class Chain:
    """A stand-in for trio's guest run: each tick asks for the next, ``n`` in all."""

    def __init__(self, driver: _BatchDriver, n: int) -> None:
        self.driver, self.left = driver, n
        self.done = asyncio.get_running_loop().create_future()

    def tick(self) -> None:
        self.left -= 1
        if self.left:
            self.driver.soon(self.tick)
        else:
            self.done.set_result(None)


async def loop_turns_during(chain: Chain) -> int:
    """Turns of the asyncio loop until ``chain`` is done (a callback re-armed every turn)."""
    loop = asyncio.get_running_loop()
    turns = 0

    def count() -> None:
        nonlocal turns
        turns += 1
        if not chain.done.done():
            loop.call_soon(count)

    chain.driver.soon(chain.tick)
    loop.call_soon(count)
    await chain.done
    return turns


async def test_ticks_yield_to_ready_asyncio_work_after_each_batch():
    """With an asyncio callback ready every turn, trio gets one batch per turn, as before."""
    chain = Chain(_BatchDriver(asyncio.get_running_loop(), per_turn=8), 20)
    assert await loop_turns_during(chain) >= 20


async def test_without_competition_eight_ticks_share_a_turn():
    loop = asyncio.get_running_loop()
    driver = _BatchDriver(loop, per_turn=8)
    turns = 0
    original = driver._run

    def counted() -> None:
        nonlocal turns
        turns += 1
        original()

    driver._run = counted  # type: ignore[method-assign]
    chain = Chain(driver, 64)
    driver.soon(chain.tick)
    await chain.done
    assert turns == 8  # 64 ticks, 8 a turn


async def test_a_failing_tick_does_not_strand_the_next_ones():
    loop = asyncio.get_running_loop()
    driver = _BatchDriver(loop, per_turn=8)
    ran = []
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context["exception"]))

    def boom() -> None:
        raise RuntimeError("a bug in a tick")

    driver.soon(boom)
    driver.soon(ran.append, 1)
    driver.soon(ran.append, 2)
    for _ in range(5):
        await asyncio.sleep(0)
    assert ran == [1, 2]
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)


@pytest.mark.parametrize("per_turn", [1, 8])
async def test_order_is_kept(per_turn):
    driver = _BatchDriver(asyncio.get_running_loop(), per_turn=per_turn)
    seen: list[int] = []
    for i in range(20):
        driver.soon(seen.append, i)
    for _ in range(25):
        await asyncio.sleep(0)
    assert seen == list(range(20))
