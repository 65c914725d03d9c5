"""Actor mailbox throughput and ask latency against bare asyncio baselines.

tell: N messages from a producer to an actor vs a bare asyncio.Queue producer/consumer
      (goal >= 1.0x).
ask:  N sequential asks vs a bare future ping-pong between two tasks, without and with the
      default 5 s timeout (goal >= 0.8x both).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, load, paired, report

from peerkit import Actor, Message, Request, Service, Supervisor, handler

N = 200_000
N_ASK = 50_000


class Tick(Message, tag="bench.Tick"):
    n: int


class Ping(Request, tag="bench.Ping"):
    n: int


class Pong(Message, tag="bench.Pong"):
    n: int


class Sink(Actor):
    mailbox_size = 1000

    def __init__(self) -> None:
        self.count = 0
        self.done: asyncio.Future[None] | None = None
        self.target = 0

    @handler
    async def tick(self, msg: Tick) -> None:
        self.count += 1
        if self.count == self.target and self.done is not None:
            self.done.set_result(None)

    @handler
    async def ping(self, msg: Ping) -> int:
        return msg.n


async def bare_queue() -> float:
    q: asyncio.Queue[Tick] = asyncio.Queue(1000)
    done = 0

    async def consumer() -> None:
        nonlocal done
        while done < N:
            await q.get()
            done += 1

    msgs = [Tick(n=i) for i in range(N)]
    with Timer() as t:
        c = asyncio.create_task(consumer())
        for m in msgs:
            await q.put(m)
        await c
    return N / t.elapsed


async def actor_tell() -> float:
    sup = Supervisor()
    ref = sup.spawn(Sink)
    await sup.start()
    sink = sup.instance(ref)
    assert isinstance(sink, Sink)
    sink.target = N
    sink.done = asyncio.get_running_loop().create_future()
    msgs = [Tick(n=i) for i in range(N)]
    with Timer() as t:
        for m in msgs:
            await ref.tell(m)
        await sink.done
    await sup.stop()
    return N / t.elapsed


async def bare_pingpong_timer_pending() -> float:
    """The ping-pong in a loop with one timer pending, as a peer's loop always has (asyncio
    reads its clock on every turn while a timer is scheduled)."""
    timer = asyncio.get_running_loop().call_later(3600, lambda: None)
    try:
        return await bare_pingpong()
    finally:
        timer.cancel()


async def bare_pingpong() -> float:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Future[tuple[int, asyncio.Future[int]]] = loop.create_future()
    box = [inbox]

    async def server() -> None:
        for _ in range(N_ASK):
            n, reply = await box[0]
            box[0] = loop.create_future()
            reply.set_result(n)

    s = asyncio.create_task(server())
    await asyncio.sleep(0)
    with Timer() as t:
        for i in range(N_ASK):
            reply: asyncio.Future[int] = loop.create_future()
            box[0].set_result((i, reply))
            await reply
    await s
    return N_ASK / t.elapsed


async def actor_ask(timeout: float | None = None) -> float:
    return await ask_on(Sink, timeout)


async def actor_ask_timeout() -> float:
    return await actor_ask(timeout=5.0)


class ServiceSink(Service):
    """The same handler on a Service: validation in and out, no middleware."""

    @handler
    async def ping(self, msg: Ping) -> Pong:
        return Pong(n=msg.n)


class ActorSink(Actor):
    @handler
    async def ping(self, msg: Ping) -> Pong:
        return Pong(n=msg.n)


async def ask_on(actor_type: type[Actor], timeout: float | None = None) -> float:
    sup = Supervisor()
    ref = sup.spawn(actor_type)
    await sup.start()
    msgs = [Ping(n=i) for i in range(N_ASK)]
    with Timer() as t:
        for m in msgs:
            await ref.ask(m, timeout=timeout)
    await sup.stop()
    return N_ASK / t.elapsed


def run(coro_fn) -> float:  # type: ignore[no-untyped-def]
    return asyncio.run(coro_fn())


def main() -> None:
    print(f"# bench_actor ({load()})")
    ours, base = paired(7, lambda: run(actor_tell), lambda: run(bare_queue))
    report("actor tell (msgs/s) vs asyncio.Queue", ours, base, "msg/s", ">= 1.0x")
    ours, base = paired(7, lambda: run(actor_ask), lambda: run(bare_pingpong))
    report("actor ask (asks/s) vs future ping-pong", ours, base, "ask/s", ">= 0.8x")
    ours, base = paired(5, lambda: run(actor_ask_timeout), lambda: run(bare_pingpong))
    report("actor ask with 5 s timeout vs ping-pong", ours, base, "ask/s", ">= 0.8x")
    ours, base = paired(5, lambda: run(actor_ask_timeout), lambda: run(bare_pingpong_timer_pending))
    report("  ... vs ping-pong with a timer pending", ours, base, "ask/s", "info (as in a peer)")
    ours, base = paired(
        5, lambda: asyncio.run(ask_on(ServiceSink)), lambda: asyncio.run(ask_on(ActorSink))
    )
    report("Service ask (validated) vs plain Actor", ours, base, "ask/s", "cost of validation")


if __name__ == "__main__":
    main()
