"""Handlers that answer later (``Actor.answer_later``): the mailbox moves on while the work
runs, and the request still gets the work's outcome, its error, or its timeout."""

import asyncio

import pytest

from peerkit.actor import Actor, Later, handler
from peerkit.errors import (
    ActorStopped,
    HandlerFailed,
    RequestTimeout,
    ValidationFailed,
)
from peerkit.messages import Message, Request
from peerkit.service import Service, log_calls
from peerkit.supervisor import Supervisor
from peerkit.testing import wait_for


class Sum(Message, tag="test.later.Sum"):
    n: int


class Long(Request, tag="test.later.Long", reply=Sum):
    #: what the long work does when released: "answer", "refuse", "crash", "wrong type"
    then: str = "answer"


class Quick(Request, tag="test.later.Quick"):
    pass


class Joiner(Actor):
    """Long requests share one piece of work while it runs; quick ones are answered at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.work: Later | None = None
        self.runs = 0

    @handler
    async def long(self, msg: Long) -> Later:
        if self.work is None or self.work.task.done():
            self.work = self.answer_later(self._long(msg.then))
        return self.work

    async def _long(self, then: str) -> Sum:
        self.runs += 1
        await self.release.wait()
        if then == "refuse":
            raise ValidationFailed("refused after a while")
        if then == "crash":
            raise RuntimeError("the long work broke")
        return Sum(n=42)

    @handler
    async def quick(self, msg: Quick) -> str:
        return "quick"


async def test_a_handler_called_alone_answers_when_its_later_is_awaited():
    joiner = Joiner()
    later = await joiner.long(Long())
    assert isinstance(later, Later) and not later.task.done()
    joiner.release.set()
    assert await later == Sum(n=42)


async def started(sup: Supervisor, actor: type[Actor] = Joiner):
    ref = sup.spawn(actor)
    await sup.start()
    return ref, sup.instance(ref)


async def test_the_mailbox_moves_on_and_joined_requests_share_one_answer():
    sup = Supervisor()
    ref, joiner = await started(sup)
    first = ref.ask_nowait(Long())
    second = ref.ask_nowait(Long())  # arrives while the first's work runs: joins it
    assert await ref.ask(Quick(), timeout=5) == "quick"  # not queued behind the long work
    assert not first.done() and not second.done()
    joiner.release.set()
    assert await first == Sum(n=42) and await second == Sum(n=42)
    assert joiner.runs == 1
    await sup.stop()


async def test_a_typed_error_of_the_work_is_the_answer_and_no_crash():
    sup = Supervisor(backoff=0)
    ref, joiner = await started(sup)
    joiner.release.set()
    with pytest.raises(ValidationFailed, match="refused after a while"):
        await ref.ask(Long(then="refuse"))
    assert sup.restarts(ref) == 0
    await sup.stop()


async def test_another_exception_of_the_work_is_a_crash():
    sup = Supervisor(backoff=0)
    ref, joiner = await started(sup)
    joiner.release.set()
    with pytest.raises(HandlerFailed, match="failed on Long: RuntimeError"):
        await ref.ask(Long(then="crash"))
    await wait_for(lambda: sup.restarts(ref) == 1, what="the restart")
    assert await ref.ask(Quick()) == "quick"
    await sup.stop()


async def test_the_askers_timeout_still_holds_and_others_keep_theirs():
    sup = Supervisor()
    ref, joiner = await started(sup)
    with pytest.raises(RequestTimeout, match=r"did not answer Long within 0\.05s"):
        await ref.ask(Long(), timeout=0.05)
    # the timed-out ask is still being handled: the asks after it keep their own deadlines
    for _ in range(10):
        assert await ref.ask(Quick(), timeout=5) == "quick"
    joiner.release.set()
    await sup.stop()


async def test_work_still_running_at_stop_answers_actor_stopped():
    sup = Supervisor()
    ref, _ = await started(sup)
    pending = ref.ask_nowait(Long())
    assert await ref.ask(Quick()) == "quick"  # the long request has been handled
    await sup.stop()
    with pytest.raises(ActorStopped):
        await pending


class Checked(Service):
    """A service: its answers are checked against the request's reply type, later ones too."""

    validate = True
    middleware = [log_calls]

    @handler
    async def long(self, msg: Long) -> Later:
        return self.answer_later(self._answer(msg.then))

    async def _answer(self, then: str) -> object:
        await asyncio.sleep(0)
        if then == "crash":
            raise RuntimeError("the later work broke")
        return "not a Sum" if then == "wrong type" else Sum(n=1)


async def test_a_service_checks_an_answer_that_comes_later():
    sup = Supervisor(backoff=0)
    ref = sup.spawn(Checked)
    await sup.start()
    logged = []
    sup.instance(ref).log = Recorder(logged)
    assert await ref.ask(Long()) == Sum(n=1)
    assert logged[0]["outcome"] == "later"  # the middleware logged the handler's turn
    with pytest.raises(HandlerFailed, match=r"Checked\.long returned str, expected Sum"):
        await ref.ask(Long(then="wrong type"))
    assert sup.restarts(ref) == 0  # a wrong answer is an answer
    with pytest.raises(HandlerFailed, match="failed on Long: RuntimeError"):
        await ref.ask(Long(then="crash"))
    await wait_for(lambda: sup.restarts(ref) == 1, what="the restart")
    await sup.settled()
    assert sup.restarts(ref) == 1
    await sup.stop()


class Recorder:
    """A logger that keeps what it is told."""

    def __init__(self, into: list) -> None:
        self.into = into

    def info(self, event: str, **fields) -> None:
        self.into.append({"event": event, **fields})
