"""Supervision: start actors, restart them when they crash, give up loudly when they keep crashing.

Strategies (as in Erlang/OTP):

- ``one_for_one``: restart only the child that crashed;
- ``one_for_all``: stop every child, then restart them all in start order;
- ``rest_for_one``: restart the crashed child and every child started after it.

More than ``max_restarts`` restarts within ``within`` seconds (on the injected clock) is an
escalation: the supervisor stops all its children and calls ``on_escalate``; the node treats that
as fatal. Between restarts it waits ``backoff * 2**(n-1)`` seconds (capped at ``backoff_max``),
where n counts the restarts inside the window.

What survives a restart: the child's ``ActorRef``, its mailbox and every message still queued in
it, its router registrations and subscriptions. What does not: the actor *instance*. The factory
builds a fresh one, so attributes start over; state that must outlive a crash belongs in a
dependency handed to the factory (a store, the node), not in ``self``. The message whose handler
crashed is answered with ``HandlerFailed`` and not retried; a message in flight in a sibling that
is stopped for a restart is answered with ``ActorStopped``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from time import perf_counter
from typing import Any

import structlog

from .actor import Actor, ActorRef, Later, fail_letter, stopped_error
from .errors import HandlerFailed, PeerkitError, SupervisorEscalation

#: how long an actor works through its mailbox before letting the event loop run
TIME_SLICE = 0.002


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


@dataclass(eq=False, slots=True)
class _Cell:
    ref: ActorRef
    factory: Callable[[], Actor]
    instance: Actor | None = None
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    handled: int = 0
    busy_seconds: float = 0.0
    started: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    def __init__(
        self,
        *,
        name: str = "root",
        strategy: Strategy | str = Strategy.ONE_FOR_ONE,
        max_restarts: int = 5,
        within: float = 10.0,
        backoff: float = 0.01,
        backoff_max: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        log: Any = None,
        on_escalate: Callable[[SupervisorEscalation], None] | None = None,
        bind: Callable[[Actor], None] | None = None,
    ) -> None:
        self.name = name
        self.strategy = Strategy(strategy)
        self.max_restarts = max_restarts
        self.within = within
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._clock = clock
        self._sleep = sleep  # restart backoff waits on the node's clock
        self.log = log if log is not None else structlog.get_logger().bind(supervisor=name)
        self._on_escalate = on_escalate
        self._bind = bind
        self._cells: list[_Cell] = []
        self._recent: deque[float] = deque()
        self._crashes: asyncio.Queue[tuple[_Cell, BaseException]] | None = None
        self._pending_crashes = 0
        self._reporting: set[asyncio.Task[None]] = set()
        self._settled = asyncio.Event()
        self._settled.set()
        self._loop_task: asyncio.Task[None] | None = None
        self._running = False
        self.escalated: SupervisorEscalation | None = None

    # --- building -------------------------------------------------------------------------

    def spawn(
        self,
        factory: Callable[[], Actor] | type[Actor],
        *,
        name: str | None = None,
        mailbox_size: int | None = None,
    ) -> ActorRef:
        """Add a child. ``factory`` builds a fresh instance at start and at every restart."""
        actor_type: type[Actor] = factory if isinstance(factory, type) else _probe_type(factory)
        name = name or actor_type.__name__
        if any(c.ref.name == name for c in self._cells):
            raise ValueError(f"an actor named {name!r} already runs under {self.name!r}")
        ref = ActorRef(name, actor_type, mailbox_size or actor_type.mailbox_size)
        cell = _Cell(ref, factory)
        self._cells.append(cell)
        if self._running:
            self._start_cell(cell)
        return ref

    @property
    def children(self) -> list[ActorRef]:
        return [c.ref for c in self._cells]

    def restarts(self, ref: ActorRef) -> int:
        return next(c.restarts for c in self._cells if c.ref is ref)

    def stats(self) -> list[dict[str, object]]:
        """Per actor: mailbox depth, restarts, messages handled and time spent in handlers."""
        return [
            {
                "name": c.ref.name,
                "type": c.ref.actor_type.__name__,
                "mailbox": len(c.ref.mailbox),
                "capacity": c.ref.mailbox.capacity,
                "restarts": c.restarts,
                "handled": c.handled,
                "busy_seconds": round(c.busy_seconds, 6),
                "running": c.task is not None and not c.task.done(),
            }
            for c in self._cells
        ]

    def instance(self, ref: ActorRef) -> Actor | None:
        """The live instance behind a ref (for tests and introspection)."""
        return next(c.instance for c in self._cells if c.ref is ref)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._crashes = asyncio.Queue()
        self._running = True
        self._loop_task = asyncio.create_task(self._supervise(), name=f"supervisor:{self.name}")
        for cell in self._cells:
            self._start_cell(cell)
        # Wait for every child's on_start, or for the supervisor to give up on one that keeps
        # failing (its loop ends when it escalates): never wait forever.
        all_started: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(c.started.wait() for c in self._cells))
        )
        supervising: asyncio.Future[Any] = self._loop_task
        await asyncio.wait({all_started, supervising}, return_when=asyncio.FIRST_COMPLETED)
        if self.escalated is not None:
            all_started.cancel()
            await asyncio.gather(all_started, return_exceptions=True)
            raise self.escalated
        await all_started

    async def stop(self) -> None:
        """Stop every child in reverse start order; queued messages are answered ActorStopped."""
        self._running = False
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        for cell in reversed(self._cells):
            await self._stop_cell(cell)
            cell.ref.mailbox.close()
            for letter in cell.ref.mailbox.drain():
                fail_letter(letter, stopped_error(cell.ref.name))

    async def wait_started(self, ref: ActorRef) -> None:
        cell = next(c for c in self._cells if c.ref is ref)
        await cell.started.wait()

    # --- the child loop -------------------------------------------------------------------

    def _start_cell(self, cell: _Cell) -> None:
        cell.started.clear()
        cell.task = asyncio.create_task(self._run(cell), name=f"actor:{cell.ref.name}")
        cell.task.add_done_callback(partial(self._exited, cell))

    async def _run(self, cell: _Cell) -> None:
        try:
            await self._serve(cell)
        except Exception:
            # Counted before the task's done-callback runs, so that settled() called right
            # after a failed ask already waits for this crash to be handled.
            self._pending_crashes += 1
            self._settled.clear()
            raise

    async def _serve(self, cell: _Cell) -> None:
        actor = cell.factory()
        actor.name = cell.ref.name
        actor.ref = cell.ref
        actor.log = self.log.bind(actor=cell.ref.name)
        if self._bind is not None:
            self._bind(actor)
        actor._report_crash = partial(self._task_crashed, cell, actor)
        cell.instance = actor
        await actor.on_start()
        cell.started.set()
        table = actor.dispatch_table()
        mailbox = cell.ref.mailbox
        items = mailbox.items
        putters = mailbox.putters
        ref = cell.ref
        loop = asyncio.get_running_loop()
        slice_began = perf_counter()
        while True:
            if not items:
                # Mailbox.arm, inline: a call less per wait (~700 instructions, 1.3% of an ask)
                if mailbox._closed:
                    mailbox.arm()  # raises ActorStopped
                getter = mailbox._getter = loop.create_future()
                await getter
                slice_began = 0.0  # the slice begins with the next message (one clock read less)
                continue
            letter = items.popleft()
            if putters:
                mailbox.wake_putter()
            msg, reply, ctx, _deadline, _timeout = letter
            ref.current = letter  # where the actor's timer looks for its deadline too
            began = perf_counter()
            if not slice_began:
                slice_began = began
            try:
                entry = table.get(type(msg))
                if entry is None:
                    result = await actor.receive(msg, ctx)  # raises NoHandler
                elif entry[1]:
                    result = await entry[0](msg, ctx)
                else:
                    result = await entry[0](msg)
            except PeerkitError as exc:
                # A typed error is an answer, not a crash.
                fail_letter(letter, exc)
            except asyncio.CancelledError:
                fail_letter(letter, stopped_error(cell.ref.name))
                raise
            except Exception as exc:
                fail_letter(
                    letter,
                    HandlerFailed(f"{cell.ref.name} failed on {type(msg).__name__}: {exc!r}"),
                )
                raise
            else:
                if reply is not None and not reply.done():
                    if result.__class__ is Later:
                        result.answer(letter, ref.name)
                    else:
                        reply.set_result(result)
            finally:
                ref.current = None
                cell.handled += 1
                ended = perf_counter()
                cell.busy_seconds += ended - began
            if ended - slice_began > TIME_SLICE:
                # A full mailbox of handlers that never await would hold the loop, and every
                # answer they make, until the last one: the callers' callbacks (a reply
                # written to the network, its memory freed) and other actors run in between.
                await asyncio.sleep(0)
                slice_began = perf_counter()

    def _exited(self, cell: _Cell, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self._running and self._crashes is not None:
            self._crashes.put_nowait((cell, exc))
        else:
            self._crash_handled()

    def _crash_handled(self) -> None:
        self._pending_crashes -= 1
        if self._pending_crashes <= 0 or not self._running:
            self._pending_crashes = 0
            self._settled.set()

    async def settled(self) -> None:
        """Wait until every crash seen so far has been handled (restart or escalation)."""
        await self._settled.wait()

    def _task_crashed(self, cell: _Cell, actor: Actor, exc: BaseException) -> None:
        """A background task of ``actor`` failed: the actor has crashed, as if a handler had."""
        if cell.instance is not actor or not self._running or self._crashes is None:
            return  # an old incarnation's task, or shutting down
        self._pending_crashes += 1
        self._settled.clear()
        crashes, task = self._crashes, cell.task

        async def crashed() -> None:
            if task is not None and not task.done():
                task.cancel()  # its mailbox loop ends first; then the restart decision
                await asyncio.gather(task, return_exceptions=True)
            crashes.put_nowait((cell, exc))

        reporting = asyncio.get_running_loop().create_task(crashed())
        self._reporting.add(reporting)  # held: the loop keeps only weak references to tasks
        reporting.add_done_callback(self._reporting.discard)

    async def _stop_cell(self, cell: _Cell) -> None:
        task, cell.task = cell.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if cell.ref.current is not None:
            fail_letter(cell.ref.current, stopped_error(cell.ref.name))
            cell.ref.current = None
        instance, cell.instance = cell.instance, None
        if instance is not None:
            await instance.stop_tasks()  # background work first: on_stop sees a quiet actor
            try:
                await instance.on_stop()
            except Exception:
                # on_stop failing must not stop the others from stopping; it is logged, once.
                self.log.exception("actor.on_stop_failed", actor=cell.ref.name)

    # --- supervision ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._crashes is not None
        while True:
            cell, exc = await self._crashes.get()
            try:
                if not await self._handle_crash(cell, exc):
                    return
            finally:
                self._crash_handled()

    async def _handle_crash(self, cell: _Cell, exc: BaseException) -> bool:
        """Restart per the strategy; False once the supervisor has escalated."""
        if cell.task is not None and not cell.task.done():
            return True  # already restarted by an earlier decision (one_for_all)
        self.log.error(
            "actor.crashed",
            actor=cell.ref.name,
            error=repr(exc),
            exc_info=exc,
            strategy=self.strategy.value,
        )
        now = self._clock()
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.within:
            self._recent.popleft()
        if len(self._recent) > self.max_restarts:
            await self._escalate(cell, exc)
            return False
        delay = min(self.backoff * 2 ** (len(self._recent) - 1), self.backoff_max)
        if delay > 0:
            await self._sleep(delay)
        await self._restart(cell)
        return True

    def _affected(self, cell: _Cell) -> list[_Cell]:
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [cell]
        if self.strategy is Strategy.ONE_FOR_ALL:
            return list(self._cells)
        return self._cells[self._cells.index(cell) :]

    async def _restart(self, crashed: _Cell) -> None:
        affected = self._affected(crashed)
        for cell in reversed(affected):
            await self._stop_cell(cell)
        for cell in affected:
            cell.restarts += 1
            self.log.info("actor.restarting", actor=cell.ref.name, restarts=cell.restarts)
            self._start_cell(cell)

    async def _escalate(self, cell: _Cell, exc: BaseException) -> None:
        err = SupervisorEscalation(
            f"supervisor {self.name!r} gave up: {len(self._recent)} crashes within"
            f" {self.within}s (limit {self.max_restarts}); last in {cell.ref.name}: {exc!r}",
            hint="fix the failing handler; the peer stops rather than crash-loop",
        )
        self.escalated = err
        self.log.critical("supervisor.escalated", actor=cell.ref.name, error=str(err))
        self._running = False
        for c in reversed(self._cells):
            await self._stop_cell(c)
            c.ref.mailbox.close()
            for letter in c.ref.mailbox.drain():
                fail_letter(letter, stopped_error(c.ref.name))
        if self._on_escalate is not None:
            self._on_escalate(err)


def _probe_type(factory: Callable[[], Actor]) -> type[Actor]:
    """The actor type a factory builds: declared via ``factory.actor_type`` or by building one."""
    declared = getattr(factory, "actor_type", None) or getattr(factory, "func", None)
    if isinstance(declared, type) and issubclass(declared, Actor):
        return declared
    return type(factory())
