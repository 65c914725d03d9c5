"""Run trio *inside* the asyncio loop (trio guest mode) and cross between the two.

py-libp2p is trio-only. Guest mode (``trio.lowlevel.start_guest_run``) runs trio's scheduler as
callbacks on the asyncio loop, on the same thread. It was the more stable of the two bridges
prototyped here (a thread bridge left a gossip mesh incomplete ~1 in 40 set-ups), and it makes the
trio->asyncio direction free: trio code may call plain synchronous asyncio-side functions directly.
The asyncio->trio direction is free too, on the loop's thread: host code may call synchronous
trio functions (trio PR #1551: "it's safe ... for host code to call synchronous Trio functions"),
so :meth:`TrioGuest.call` starts its trio task directly and a channel sets its writer's event
directly; a task made runnable while no trio batch is scheduled makes trio schedule one.
``TrioToken.run_sync_soon`` (a socket write, a task step, and in a process waiting on the
network a wake-up of trio's I/O thread) is left for other threads. The cost: an asyncio task
hogging the loop also stalls libp2p. Trio's batches are handed to the loop by
``_BatchDriver``, several per turn when asyncio has nothing ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar, TypeVar

import outcome
import trio

from ..errors import TransportClosed

T = TypeVar("T")


class _BatchDriver:
    """Hands trio's guest ticks to the asyncio loop, running up to ``per_turn`` of them in one
    turn of the loop while asyncio has nothing else ready.

    In guest mode each trio batch (every checkpoint in py-libp2p's code ends one: a lock, a
    socket send, a read) is scheduled with ``call_soon``, so each costs a whole turn of the
    asyncio loop (a ``select`` call and the loop's bookkeeping); a round trip is ~35 of them.
    Batches that follow each other with no asyncio work in between run back to back here.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, per_turn: int) -> None:
        self.loop = loop
        self.per_turn = per_turn
        # asyncio's queue of ready callbacks (CPython's loops): what would wait behind trio
        self._ready: Any = getattr(loop, "_ready", None)
        self._ticks: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._scheduled = False
        self._running = False

    def soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self._ticks.append((fn, args))
        if not self._running and not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        self._running = True
        ticks, ready = self._ticks, self._ready
        try:
            for _ in range(self.per_turn if ready is not None else 1):
                if not ticks:
                    break
                fn, args = ticks.popleft()
                fn(*args)
                if ready:
                    break  # asyncio has work: let it run before trio's next batch
        finally:
            self._running = False
            if ticks and not self._scheduled:
                self._scheduled = True
                self.loop.call_soon(self._run)


class TrioGuest:
    """One trio run hosted by one asyncio loop.

    Trio allows one run per thread, so every libp2p transport on a loop shares one guest:
    use :meth:`acquire` and :meth:`release` (reference counted), not ``start``/``stop``.
    """

    _per_loop: ClassVar[dict[asyncio.AbstractEventLoop, TrioGuest]] = {}
    #: trio batches run in one turn of the asyncio loop at most (see _BatchDriver); 8 measured
    #: best (bench_bridge: a round trip 1.30x -> 1.10x pure trio; 32 gained nothing more)
    batches_per_turn: ClassVar[int] = 8

    @classmethod
    async def acquire(cls) -> TrioGuest:
        loop = asyncio.get_running_loop()
        guest = cls._per_loop.get(loop)
        if guest is None:
            guest = cls._per_loop[loop] = cls()
            guest._starting = asyncio.ensure_future(guest.start())
        guest.users += 1
        assert guest._starting is not None
        try:
            await asyncio.shield(guest._starting)
        except BaseException:
            guest.users -= 1
            raise
        return guest

    async def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        loop = asyncio.get_running_loop()
        if self._per_loop.get(loop) is self:
            del self._per_loop[loop]
        await self.stop()

    def __init__(self) -> None:
        self.users = 0
        self._starting: asyncio.Future[None] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._done: asyncio.Future[None] | None = None
        self._thread: int | None = None  # the host loop's thread, where trio runs too
        self.live_calls = 0  # trio tasks started through call(); 0 when nothing leaked

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._done = loop.create_future()
        self._thread = threading.get_ident()

        def done(result: outcome.Outcome[None]) -> None:
            assert self._done is not None
            if self._done.done():
                return
            if isinstance(result, outcome.Error):
                self._done.set_exception(result.error)
                if not ready.done():
                    ready.set_exception(result.error)
            else:
                self._done.set_result(None)

        with _sigint_left_alone():
            trio.lowlevel.start_guest_run(
                self._main,
                ready,
                run_sync_soon_threadsafe=loop.call_soon_threadsafe,  # type: ignore[arg-type]
                run_sync_soon_not_threadsafe=(
                    loop.call_soon  # type: ignore[arg-type]
                    if self.batches_per_turn <= 1
                    else _BatchDriver(loop, self.batches_per_turn).soon
                ),
                done_callback=done,
                host_uses_signal_set_wakeup_fd=True,
                restrict_keyboard_interrupt_to_checkpoints=True,
            )
        await ready

    async def _main(self, ready: asyncio.Future[None]) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            ready.set_result(None)
            await trio.sleep_forever()

    @property
    def running(self) -> bool:
        return self._token is not None and self._done is not None and not self._done.done()

    def run_sync_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a synchronous function in trio context, soon. Safe from anywhere."""
        if self._token is None:
            raise TransportClosed("the trio side is not running")
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            raise TransportClosed("the trio side has stopped") from None

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` as a trio task; its result or exception lands in the returned future.

        Cancelling the future cancels the trio task: nothing is left running on the trio side.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        scope = trio.CancelScope()

        async def task() -> None:
            try:
                with scope:
                    result = await fn(*args)
                    if not fut.done():
                        fut.set_result(result)
                if scope.cancelled_caught and not fut.done():
                    fut.cancel()
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
            finally:
                self.live_calls -= 1
                if not fut.done():
                    fut.cancel()  # the whole trio side is shutting down

        def spawn() -> None:
            if fut.done():  # cancelled before it started: never run it
                return
            nursery = self._nursery
            if nursery is None:
                fut.set_exception(TransportClosed("the trio side is not running"))
                return
            self.live_calls += 1
            try:
                nursery.start_soon(task)
            except RuntimeError:  # the nursery closed: the trio side is shutting down
                self.live_calls -= 1
                fut.set_exception(TransportClosed("the trio side is shutting down"))

        def on_done(f: asyncio.Future[T]) -> None:
            if f.cancelled() and self.running:
                self.run_in_trio(scope.cancel)

        self.run_in_trio(spawn)
        fut.add_done_callback(on_done)
        return fut

    def run_in_trio(self, fn: Callable[[], Any]) -> None:
        """Run the synchronous trio-side ``fn``: at once on the host loop's thread (trio runs
        there too, and its synchronous calls are safe from the host), through trio's entry queue
        (soon) from any other thread."""
        if self._token is None:
            raise TransportClosed("the trio side is not running")
        if threading.get_ident() == self._thread:
            fn()
        else:
            self.run_sync_soon(fn)

    async def stop(self) -> None:
        if self._token is None or self._done is None:
            return
        nursery = self._nursery
        if nursery is not None and not self._done.done():
            self.run_sync_soon(nursery.cancel_scope.cancel)
        try:
            await self._done
        finally:
            self._token = None
            self._nursery = None

    def spawn_system(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Start a long-lived trio task (from trio context) that ends when the bridge stops."""
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)


def in_trio() -> bool:
    """True when called from a trio task (guest mode shares the thread with asyncio)."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def _sigint_left_alone() -> Iterator[None]:
    """Keep trio from taking Ctrl-C. A guest run installs its own SIGINT handler when it finds
    Python's default one; that turns Ctrl-C into a KeyboardInterrupt inside trio, which the
    transport reports as a failure while the program (a test runner, an app using peerkit)
    carries on. With a placeholder in place while the run starts, trio installs nothing, and
    Ctrl-C stays what the host program says it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN if previous is None else _placeholder)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _placeholder(signum: int, frame: object) -> None:  # pragma: no cover - never called
    raise KeyboardInterrupt
