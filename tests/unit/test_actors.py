import asyncio
import time

import pytest

from peerkit.actor import Actor, Context, handler
from peerkit.errors import (
    ActorStopped,
    HandlerFailed,
    MailboxFull,
    NoHandler,
    RequestTimeout,
    SupervisorEscalation,
    ValidationFailed,
)
from peerkit.messages import Message, Request
from peerkit.supervisor import Supervisor
from peerkit.testing import wait_for


class Add(Request, tag="test.actor.Add"):
    n: int


class Boom(Request, tag="test.actor.Boom"):
    pass


class Slow(Request, tag="test.actor.Slow"):
    gate: int = 0


class Unhandled(Message, tag="test.actor.Unhandled"):
    pass


class Refuse(Request, tag="test.actor.Refuse"):
    pass


GATES: dict[int, asyncio.Event] = {}


class Counter(Actor):
    mailbox_size = 4

    def __init__(self) -> None:
        self.total = 0
        self.started = 0

    async def on_start(self) -> None:
        self.started += 1

    @handler
    async def add(self, msg: Add) -> int:
        self.total += msg.n
        return self.total

    @handler
    async def boom(self, msg: Boom, ctx: Context) -> None:
        raise RuntimeError(f"boom from {ctx.sender}")

    @handler
    async def slow(self, msg: Slow) -> str:
        await GATES[msg.gate].wait()
        return "done"

    @handler
    async def refuse(self, msg: Refuse) -> None:
        raise ValidationFailed("no thanks")


async def test_handler_is_a_plain_method():
    c = Counter()
    assert await c.add(Add(n=2)) == 2
    assert await c.receive(Add(n=3)) == 5


def test_handler_table():
    assert set(Counter.handled_types()) == {Add, Boom, Slow, Refuse}


def test_handler_needs_a_message_annotation():
    with pytest.raises(TypeError, match="annotate"):

        class Bad(Actor):
            @handler
            async def h(self, msg: int) -> None: ...


async def test_ask_and_tell():
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    await ref.tell(Add(n=1))
    assert await ref.ask(Add(n=2)) == 3
    with pytest.raises(NoHandler):
        await ref.ask(Unhandled())
    await sup.stop()


async def test_typed_error_is_an_answer_not_a_crash():
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    await ref.ask(Add(n=5))
    with pytest.raises(ValidationFailed):
        await ref.ask(Refuse())
    assert await ref.ask(Add(n=1)) == 6  # same instance: no restart happened
    assert sup.restarts(ref) == 0
    await sup.stop()


async def test_crash_gives_typed_error_and_restart_with_fresh_state():
    sup = Supervisor(backoff=0)
    ref = sup.spawn(Counter)
    await sup.start()
    assert await ref.ask(Add(n=5)) == 5
    with pytest.raises(HandlerFailed, match="boom from None"):
        await ref.ask(Boom())
    # The mailbox survived; the next message reaches a fresh instance.
    assert await ref.ask(Add(n=1)) == 1
    assert sup.restarts(ref) == 1
    await sup.stop()


async def test_messages_queued_behind_a_crash_survive_it():
    sup = Supervisor(backoff=0)
    ref = sup.spawn(Counter)
    await sup.start()
    boom = ref.ask_nowait(Boom())
    after = [ref.ask_nowait(Add(n=1)) for _ in range(3)]
    with pytest.raises(HandlerFailed):
        await boom
    assert await asyncio.gather(*after) == [1, 2, 3]
    await sup.stop()


async def test_ask_timeout():
    GATES[1] = asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    with pytest.raises(RequestTimeout, match=r"within 0\.05s"):
        await ref.ask(Slow(gate=1), timeout=0.05)
    GATES[1].set()
    await sup.stop()


async def test_mailbox_backpressure_and_tell_nowait():
    GATES[2] = asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)  # capacity 4
    await sup.start()
    first = ref.ask_nowait(Slow(gate=2))
    await asyncio.sleep(0)  # let the actor take it; it now blocks on the gate
    for _ in range(4):
        ref.tell_nowait(Add(n=1))
    with pytest.raises(MailboxFull):
        ref.tell_nowait(Add(n=1))
    blocked = asyncio.create_task(ref.tell(Add(n=1)))
    await asyncio.sleep(0)
    assert not blocked.done()  # a local sender waits for room
    GATES[2].set()
    await blocked
    assert await first == "done"
    assert await ref.ask(Add(n=0)) == 5
    await sup.stop()


class Named(Actor):
    log_book: list[str] = []

    def __init__(self) -> None:
        self.count = 0

    async def on_start(self) -> None:
        Named.log_book.append(f"start:{self.name}")

    @handler
    async def add(self, msg: Add) -> int:
        if msg.n < 0:
            raise RuntimeError("negative")
        self.count += msg.n
        return self.count


async def _three(strategy):
    Named.log_book = []
    sup = Supervisor(strategy=strategy, backoff=0)
    refs = [sup.spawn(Named, name=n) for n in ("a", "b", "c")]
    await sup.start()
    for r in refs:
        await r.ask(Add(n=10))
    with pytest.raises(HandlerFailed):
        await refs[1].ask(Add(n=-1))
    await sup.settled()
    counts = [await r.ask(Add(n=1)) for r in refs]
    await sup.stop()
    return counts, [sup.restarts(r) for r in refs]


async def test_one_for_one():
    counts, restarts = await _three("one_for_one")
    assert counts == [11, 1, 11]
    assert restarts == [0, 1, 0]


async def test_one_for_all():
    counts, restarts = await _three("one_for_all")
    assert counts == [1, 1, 1]
    assert restarts == [1, 1, 1]


async def test_rest_for_one():
    counts, restarts = await _three("rest_for_one")
    assert counts == [11, 1, 1]
    assert restarts == [0, 1, 1]


async def test_restart_limit_escalates_and_fails_pending():
    now = [0.0]
    escalations: list[SupervisorEscalation] = []
    sup = Supervisor(
        max_restarts=2, within=10, backoff=0, clock=lambda: now[0], on_escalate=escalations.append
    )
    ref = sup.spawn(Counter)
    await sup.start()
    for _ in range(3):
        with pytest.raises(HandlerFailed):
            await ref.ask(Boom())
    # the third crash within the window exceeds max_restarts=2
    await sup.settled()
    assert escalations and "gave up" in str(escalations[0])
    with pytest.raises(ActorStopped):
        await ref.ask(Add(n=1))
    await sup.stop()


async def test_restarts_outside_the_window_do_not_escalate():
    now = [0.0]
    escalations = []
    sup = Supervisor(
        max_restarts=1, within=5, backoff=0, clock=lambda: now[0], on_escalate=escalations.append
    )
    ref = sup.spawn(Counter)
    await sup.start()
    for _ in range(4):
        now[0] += 10
        with pytest.raises(HandlerFailed):
            await ref.ask(Boom())
        assert await ref.ask(Add(n=1)) == 1
    assert not escalations
    await sup.stop()


async def test_backoff_grows_exponentially():
    delays = []

    async def fake_sleep(d):  # the supervisor waits on the sleep it is given (the node's clock)
        delays.append(d)
        await asyncio.sleep(0)

    sup = Supervisor(max_restarts=10, within=100, backoff=0.5, backoff_max=3, sleep=fake_sleep)
    ref = sup.spawn(Counter)
    await sup.start()
    for _ in range(4):
        with pytest.raises(HandlerFailed):
            await ref.ask(Boom())
        await ref.ask(Add(n=0))
    assert delays == [0.5, 1.0, 2.0, 3]
    await sup.stop()


async def test_stop_answers_queued_messages():
    GATES[3] = asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    inflight = ref.ask_nowait(Slow(gate=3))
    queued = ref.ask_nowait(Add(n=1))
    await asyncio.sleep(0)
    await sup.stop()
    for fut in (inflight, queued):
        with pytest.raises(ActorStopped):
            await fut


class Worker(Actor):
    """Starts background work; ``Fail`` makes that work fail."""

    runs: list[str] = []

    async def on_start(self) -> None:
        Worker.runs.append("start")
        self.forever = self.start_task(asyncio.sleep(3600), name="forever")

    @handler
    async def fail_later(self, msg: Boom) -> None:
        async def fail() -> None:
            raise RuntimeError("the background work failed")

        self.start_task(fail(), name="fail")

    async def on_stop(self) -> None:
        Worker.runs.append(f"stop: forever {'cancelled' if self.forever.done() else 'running'}")


async def test_background_tasks_are_owned_stopped_and_crash_the_actor():
    Worker.runs = []
    sup = Supervisor(name="t", backoff=0)
    ref = sup.spawn(Worker)
    await sup.start()
    await ref.ask(Boom())  # its background task fails: the actor has crashed
    await wait_for(lambda: sup.restarts(ref) == 1, what="the restart")
    await sup.settled()
    assert Worker.runs == ["start", "stop: forever cancelled", "start"]  # restarted
    await sup.stop()
    assert Worker.runs[-1] == "stop: forever cancelled"


class Busy(Request, tag="test.actor.Busy"):
    n: int


class BusyWorker(Actor):
    """Handlers that never await, each working for a while (a block read, say)."""

    mailbox_size = 100

    def __init__(self) -> None:
        self.events: list[str] = []

    @handler
    async def busy(self, msg: Busy) -> int:
        time.sleep(0.001)
        self.events.append(f"handled {msg.n}")
        return msg.n


async def test_a_full_mailbox_lets_answers_out_between_busy_handlers():
    # A router answers a request in the reply future's callback (the reply written out and its
    # memory let go). An actor that worked through 64 queued requests without letting the loop
    # run held 64 answers at once (a 2 MiB block read each: 128 MiB, the slow-reader flood).
    sup = Supervisor()
    ref = sup.spawn(BusyWorker)
    await sup.start()
    worker = sup.instance(ref)
    assert isinstance(worker, BusyWorker)
    futures = [ref.ask_nowait(Busy(n=i)) for i in range(64)]
    for fut in futures:
        fut.add_done_callback(lambda f: worker.events.append(f"answered {f.result()}"))
    await asyncio.gather(*futures)
    await sup.stop()
    first_answer = worker.events.index("answered 0")
    assert first_answer < worker.events.index("handled 10"), worker.events[:20]


async def test_timeouts_need_no_timer_per_ask_and_keep_nothing_answered():
    sup = Supervisor()
    ref = sup.spawn(Counter, mailbox_size=1_000)  # room for every ask: each queued at once
    await sup.start()
    loop = asyncio.get_running_loop()
    timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
    answers = [ref.ask(Add(n=1), timeout=5) for _ in range(900)]
    assert len(loop._scheduled) <= timers_before + 1  # type: ignore[attr-defined]
    assert await asyncio.gather(*answers) == list(range(1, 901))
    # an answered ask leaves nothing behind: its deadline went with its letter
    assert not ref.mailbox.items and ref.current is None
    await sup.stop()


async def test_a_short_timeout_queued_behind_a_long_one_still_fires_on_time():
    # No clock is read here: were the short deadline watched only once the long one (an hour)
    # had passed, the short ask would not fail, and the test would time out.
    GATES[7] = asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    slow = asyncio.ensure_future(ref.ask(Slow(gate=7), timeout=3600))
    await asyncio.sleep(0)  # the slow ask is in the handler, holding the mailbox
    with pytest.raises(RequestTimeout):
        await ref.ask(Add(n=1), timeout=0.05)
    assert not slow.done()
    GATES[7].set()
    assert await slow == "done"
    await sup.stop()


async def test_each_queued_deadline_is_watched_after_an_earlier_one_fires():
    # The one timer watches the earliest deadline it knows of; when it fires it must find the
    # next one among the queued letters (here a later ask behind a handler that holds the
    # mailbox). Were it not re-armed from them, the second ask would never fail.
    GATES[8] = asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)
    await sup.start()
    slow = asyncio.ensure_future(ref.ask(Slow(gate=8), timeout=None))
    await asyncio.sleep(0)  # the slow ask is in the handler, holding the mailbox
    first = asyncio.ensure_future(ref.ask(Add(n=1), timeout=0.02))
    second = asyncio.ensure_future(ref.ask(Add(n=2), timeout=0.08))
    # (asyncio.timeout: were a deadline missed, the test fails in seconds, not at pytest's limit)
    with pytest.raises(RequestTimeout, match=r"within 0\.02s"):
        async with asyncio.timeout(10):
            await first
    assert not second.done()
    with pytest.raises(RequestTimeout, match=r"within 0\.08s"):
        async with asyncio.timeout(10):
            await second
    GATES[8].set()
    assert await slow == "done"
    assert await ref.ask(Add(n=5)) == 8  # the timed-out asks were still handled (1 + 2 + 5)
    await sup.stop()


async def test_an_ask_that_waited_for_room_keeps_its_deadline_in_the_mailbox():
    # It had no room at first, so it was queued later than it asked; its deadline still holds
    # once it is queued (here behind a handler that holds the mailbox again).
    GATES[9], GATES[10] = asyncio.Event(), asyncio.Event()
    sup = Supervisor()
    ref = sup.spawn(Counter)  # capacity 4
    await sup.start()
    first = ref.ask_nowait(Slow(gate=9))
    await asyncio.sleep(0)  # in the handler: the mailbox is empty again
    queued = [ref.ask_nowait(Slow(gate=10))] + [ref.ask_nowait(Add(n=0)) for _ in range(3)]
    late = asyncio.ensure_future(ref.ask(Add(n=1), timeout=0.1))
    await asyncio.sleep(0)
    assert not late.done() and len(ref.mailbox) == ref.mailbox.capacity  # waiting for room
    GATES[9].set()  # the next letter (gate 10) is taken: room, and the handler holds again
    with pytest.raises(RequestTimeout, match=r"did not answer Add within 0\.1s"):
        async with asyncio.timeout(10):
            await late
    GATES[10].set()
    assert await first == "done"
    assert [await q for q in queued] == ["done", 0, 0, 0]
    await sup.stop()
