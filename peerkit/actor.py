"""Actors: a plain class whose handlers are chosen by message type.

    class Greeter(Actor):
        @handler
        async def greet(self, msg: Greet) -> Greeting:
            return Greeting(text=f"hello {msg.name}")

``@handler`` only records metadata; ``Greeter().greet(Greet(name="x"))`` works in a unit test
with no runtime at all. The runtime (see ``supervisor.py``) gives each running actor a bounded
mailbox, a bound structlog logger (``self.log``) and its ``ActorRef`` (``self.ref``).

A handler may take a second parameter, the :class:`Context` of the message (who sent it).
A handler that raises a :class:`~peerkit.errors.PeerkitError` has *answered* with that error:
the asker receives it and the actor carries on. Any other exception is a crash: the asker
receives ``HandlerFailed`` and the supervisor restarts the actor.

A handler whose work takes long (a garbage collection, a fetch) returns
``self.answer_later(work())``: the request is answered when that work finishes, and the mailbox
moves on at once instead of waiting behind it.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import structlog

from .errors import ActorStopped, HandlerFailed, PeerkitError, RequestTimeout
from .mailbox import Mailbox
from .messages import Message

if TYPE_CHECKING:
    from .context import NodeContext

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_HANDLER_ATTR = "__peerkit_handler__"
_REQUIRES_ATTR = "__peerkit_requires__"


_OPEN_WRITE_ATTR = "__peerkit_open_write__"
_LOCAL_ATTR = "__peerkit_local__"
_USER_ONLY_ATTR = "__peerkit_user_only__"


def handler(
    fn: F | None = None,
    /,
    *,
    handles: type[Message] | None = None,
    requires: Any = None,
    open_write: bool = False,
    local: bool = False,
    peers: bool = True,
) -> Any:
    """Mark a method as the handler of a message type (taken from its first annotation).

    ``requires`` (a :class:`peerkit.auth.Requires`) makes the router check, before the handler
    runs, that a remote request carries a delegation chain granting that capability.
    ``open_write=True`` marks a handler that stores what anyone sends (no delegation needed):
    the router charges each remote sender's open-write quota (``limits`` in peer.yaml) first.
    ``local=True`` keeps the type off the router: only the node's own code (a family's client,
    holding the actor's ref) can send it; a peer that sends it gets ``no_handler``. Use it for
    the commands a client gives its actor, which may carry secrets.
    ``peers=False`` serves the type to this node's own user only: ``node.request(node.peer_id,
    ...)``, the HTTP API on a trusted gateway, ``peerkit console``; a peer that sends it is
    refused. Use it for what acts as the user (a login, a publish) in an app's service.
    Only records metadata; the method stays a plain coroutine function.
    """

    def mark(f: F) -> F:
        setattr(f, _HANDLER_ATTR, handles or True)
        if requires is not None:
            setattr(f, _REQUIRES_ATTR, requires)
        if open_write:
            setattr(f, _OPEN_WRITE_ATTR, True)
        if local:
            setattr(f, _LOCAL_ATTR, True)
        if not peers:
            setattr(f, _USER_ONLY_ATTR, True)
        return f

    return mark(fn) if fn is not None else mark


@dataclass(frozen=True, slots=True)
class Context:
    """Where a message came from. ``sender`` is the remote peer id, or None when local."""

    sender: str | None = None
    topic: str | None = None


LOCAL = Context()


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    method: str
    wants_context: bool
    #: the capability a remote request must prove (peerkit.auth.Requires), or None
    requires: Any = None
    #: stores what any peer sends: charged to the sender's open-write quota
    open_write: bool = False
    #: only the node's own code sends it (never routed to peers)
    local: bool = False
    #: routed, but only for this node's own user: other peers are refused
    user_only: bool = False


class Actor:
    """Base class for actors. Subclasses define ``@handler`` methods and optional hooks."""

    #: how many messages may wait in this actor's mailbox before senders feel backpressure
    mailbox_size: ClassVar[int] = 1000
    _handlers: ClassVar[dict[type[Message], HandlerSpec]] = {}

    # Set by the runtime before on_start (see ActorCell); harmless defaults for unit tests.
    name: str = ""
    log: Any = structlog.get_logger()
    ref: ActorRef | None = None
    #: what the actor sees of its node (set by Node.spawn; a FakeNode in unit tests)
    node: NodeContext

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type[Message], HandlerSpec] = {}
        for base in reversed(cls.__mro__[1:]):
            table.update(getattr(base, "_handlers", {}))
        for attr, fn in vars(cls).items():
            mark = getattr(fn, _HANDLER_ATTR, None)
            if mark is None:
                continue
            msg_type, wants_context = _handler_signature(cls, attr, fn, mark)
            table[msg_type] = HandlerSpec(
                attr,
                wants_context,
                getattr(fn, _REQUIRES_ATTR, None),
                getattr(fn, _OPEN_WRITE_ATTR, False),
                getattr(fn, _LOCAL_ATTR, False),
                getattr(fn, _USER_ONLY_ATTR, False),
            )
        cls._handlers = table

    @classmethod
    def handled_types(cls) -> list[type[Message]]:
        return list(cls._handlers)

    async def on_start(self) -> None:
        """Called when the actor starts and after every restart, before any message."""

    async def on_stop(self) -> None:
        """Called when the actor stops or is about to be replaced by a restart."""

    # --- background work the actor owns ---------------------------------------------------

    #: set by the supervisor: how a failed background task reports the actor crashed
    _report_crash: Callable[[BaseException], None] | None = None

    def start_task(self, work: Coroutine[Any, Any, Any], *, name: str = "") -> asyncio.Task[Any]:
        """Run ``work`` beside the mailbox, owned by this actor: it is cancelled and awaited
        when the actor stops or restarts (before ``on_stop``), and if it fails the actor has
        crashed (the supervisor decides what follows). Use it for anything that waits on the
        network, so that no handler holds the mailbox while others wait."""
        return self._own(work, name or "task", errors_answer=False)

    def _own(
        self, work: Coroutine[Any, Any, Any], name: str, *, errors_answer: bool
    ) -> asyncio.Task[Any]:
        """Run ``work`` as a task of this actor; its failure is a crash of the actor, except a
        PeerkitError when ``errors_answer`` (it is then the answer to a request)."""
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}:{name}")
        tasks: set[asyncio.Task[Any]] = self.__dict__.setdefault("_tasks", set())
        tasks.add(task)
        task.add_done_callback(partial(self._task_done, errors_answer))
        return task

    def answer_later(self, work: Coroutine[Any, Any, Any]) -> Later:
        """Answer the request being handled with what ``work`` returns, when it has finished,
        and let the mailbox move on now: ``return self.answer_later(self._collect())``.

        ``work`` runs as a task this actor owns (see :meth:`start_task`): it runs beside the
        mailbox, so it must not assume it has the actor to itself (the handlers that run
        meanwhile may change what it reads). A ``PeerkitError`` it raises is the answer; any
        other exception is a crash, as in a handler. The same ``Later`` may be returned for
        several requests (they join one piece of work and all get its outcome); for a tell
        there is nobody to answer and the work simply runs.
        """
        return Later(self._own(work, "answer", errors_answer=True))

    def _task_done(self, errors_answer: bool, task: asyncio.Task[Any]) -> None:
        self.__dict__.get("_tasks", set()).discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None or (errors_answer and isinstance(exc, PeerkitError)):
            return
        if self._report_crash is not None:
            self._report_crash(exc)

    def watch_peers(self, listener: Callable[[str, bool], None], *, at_once: bool = False) -> None:
        """Call ``listener(peer, connected)`` when a connection of the node has settled (a
        moment after it opened: work for a new peer waits until its first request has had
        its turn) and when it closes, until this actor stops or restarts (it must not block:
        start a task for real work). ``at_once`` hears every change as it happens instead:
        for state that must follow the connections exactly."""
        unwatch = self.node.watch_peers(listener, at_once=at_once)
        self.__dict__.setdefault("_unwatch", []).append(unwatch)

    async def stop_tasks(self) -> None:
        """Stop peer watching and cancel and await every task started with
        :meth:`start_task` (the runtime calls it before ``on_stop``)."""
        for unwatch in self.__dict__.pop("_unwatch", []):
            unwatch()
        tasks = self.__dict__.get("_tasks", set())
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def dispatch_table(self) -> dict[type[Message], tuple[Callable[..., Any], bool]]:
        """Bound handler and wants-context flag per message type (built once per instance)."""
        return {t: (getattr(self, s.method), s.wants_context) for t, s in self._handlers.items()}

    async def receive(self, msg: Message, ctx: Context = LOCAL) -> Any:
        """Dispatch one message to its handler (the runtime calls this)."""
        spec = self._handlers.get(type(msg))
        if spec is None:
            from .errors import NoHandler

            raise NoHandler(f"{type(self).__name__} has no handler for {type(msg).__name__}")
        method = getattr(self, spec.method)
        if spec.wants_context:
            return await method(msg, ctx)
        return await method(msg)


def _handler_signature(
    cls: type, attr: str, fn: Callable[..., Any], mark: Any
) -> tuple[type[Message], bool]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # drop self
    if not params or len(params) > 2:
        raise TypeError(f"{cls.__name__}.{attr}: a handler takes (self, msg) or (self, msg, ctx)")
    msg_type: Any
    if isinstance(mark, type):
        msg_type = mark
    else:
        hints = typing.get_type_hints(fn, globalns=vars(inspect.getmodule(fn) or object()))
        msg_type = hints.get(params[0].name)
        if not (isinstance(msg_type, type) and issubclass(msg_type, Message)):
            raise TypeError(
                f"{cls.__name__}.{attr}: annotate the message parameter with a Message type,"
                " or use @handler(handles=SomeMessage)"
            )
    return msg_type, len(params) == 2


#: one mailbox entry: (message, future for the answer or None, context, deadline or None,
#: timeout or None). A tuple, not a class: this is the hottest allocation in the runtime. An
#: ask's deadline travels in its letter: the actor's one timer finds the asks still waiting
#: where they are (queued, or the letter being handled), so an answered ask costs nothing to
#: forget (a queue of deadlines beside the mailbox cost ~1,000 instructions an ask, 2%).
Letter = tuple[Message, "asyncio.Future[Any] | None", Context, "float | None", "float | None"]


class ActorRef:
    """The stable handle to an actor: it and its mailbox survive restarts of the instance."""

    __slots__ = ("_timer", "_timer_at", "actor_type", "current", "mailbox", "name")

    def __init__(self, name: str, actor_type: type[Actor], mailbox_size: int) -> None:
        self.name = name
        self.actor_type = actor_type
        self.mailbox: Mailbox[Letter] = Mailbox(mailbox_size, name)
        #: the letter whose handler is running (set by the supervisor's loop)
        self.current: Letter | None = None
        #: one timer for all asks with a timeout, at the earliest deadline it knows of (a timer
        #: per ask cost 40% of ask throughput); it re-arms itself from the letters it finds
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __repr__(self) -> str:
        return f"<ActorRef {self.name} ({self.actor_type.__name__})>"

    def handles(self, msg_type: type[Message]) -> bool:
        return msg_type in self.actor_type._handlers

    def tell(self, msg: Message, ctx: Context = LOCAL) -> Awaitable[None]:
        """Send without waiting for an answer: ``await ref.tell(msg)``.

        The message is queued at once when there is room (the await then returns immediately);
        when the mailbox is full, the await waits for room: the backpressure local senders feel.
        """
        mailbox = self.mailbox
        if len(mailbox.items) < mailbox.capacity:
            mailbox.put_nowait((msg, None, ctx, None, None))
            return _DONE
        return mailbox.put((msg, None, ctx, None, None))

    def tell_nowait(self, msg: Message, ctx: Context = LOCAL) -> None:
        """Send without waiting at all; raises MailboxFull when there is no room."""
        self.mailbox.put_nowait((msg, None, ctx, None, None))

    def ask(
        self, msg: Message, *, timeout: float | None = 5.0, ctx: Context = LOCAL
    ) -> Awaitable[Any]:
        """Send and wait for the handler's return value (or its error): ``await ref.ask(msg)``.

        Raises RequestTimeout after ``timeout`` seconds (None waits for ever). Returns the
        answer's future itself when there is room, which saves a coroutine per ask.
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        mailbox = self.mailbox
        items = mailbox.items
        if len(items) >= mailbox.capacity or mailbox._closed:
            if mailbox._closed:
                mailbox.put_nowait((msg, fut, ctx, None, None))  # raises ActorStopped
            return self._ask_when_room(loop, fut, msg, timeout, ctx)
        # Mailbox.put_nowait, inline: its call and its second look at the room were 3% of an
        # ask (interleaved rounds in one process)
        if timeout is None:
            items.append((msg, fut, ctx, None, None))
        else:
            deadline = loop.time() + timeout
            items.append((msg, fut, ctx, deadline, timeout))
            if self._timer is None or deadline < self._timer_at:
                self._arm(loop, deadline)
        getter = mailbox._getter
        if getter is not None:
            mailbox._getter = None
            if not getter.done():
                getter.set_result(None)
        return fut

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(deadline, self._expire_due, loop)
        self._timer_at = deadline

    def _expire_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail every ask past its deadline; watch the earliest one still waiting.

        Runs at a deadline, so rarely: at most once per timeout under a steady flow of asks
        (each is usually answered long before), which is why it may read the whole mailbox.
        """
        self._timer = None
        now = loop.time()
        name = self.name
        earliest = None
        letters: Iterable[Letter] = self.mailbox.items
        if self.current is not None:
            letters = chain((self.current,), letters)
        for msg, fut, _ctx, deadline, timeout in letters:
            if deadline is None or fut is None or fut.done():
                continue
            if deadline <= now:
                _expire(fut, name, msg, timeout)
            elif earliest is None or deadline < earliest:
                earliest = deadline
        if earliest is not None:
            self._arm(loop, earliest)

    async def _ask_when_room(
        self,
        loop: asyncio.AbstractEventLoop,
        fut: asyncio.Future[Any],
        msg: Message,
        timeout: float | None,
        ctx: Context,
    ) -> Any:
        deadline = None if timeout is None else loop.time() + timeout
        try:
            await asyncio.wait_for(self.mailbox.put((msg, fut, ctx, deadline, timeout)), timeout)
        except TimeoutError:
            raise RequestTimeout(
                f"{self.name} had no room for {type(msg).__name__} within {timeout}s"
            ) from None
        if deadline is not None and (self._timer is None or deadline < self._timer_at):
            self._arm(loop, deadline)
        return await fut

    def ask_nowait(self, msg: Message, ctx: Context = LOCAL) -> asyncio.Future[Any]:
        """Enqueue a request and return the future of its answer; MailboxFull when full."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.mailbox.put_nowait((msg, fut, ctx, None, None))
        return fut


class Later:
    """What a handler returns (from :meth:`Actor.answer_later`) to answer after its turn.

    Awaiting it gives the answer: what a test that calls the handler directly does.
    """

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task

    def __await__(self) -> Generator[Any, None, Any]:
        return self.task.__await__()

    def answer(self, letter: Letter, name: str) -> None:
        """Settle the letter's reply with the task's outcome when it has one (the supervisor
        calls this instead of answering at once)."""
        msg, reply, _ctx, deadline, timeout = letter
        assert reply is not None
        if deadline is not None:
            # Its handler has returned, so the letter is neither queued nor being handled,
            # where the actor's one timer looks for deadlines: it gets a timer of its own
            # (answering later is rare, asks are not).
            timer = asyncio.get_running_loop().call_at(deadline, _expire, reply, name, msg, timeout)
            reply.add_done_callback(lambda _: timer.cancel())
        self.task.add_done_callback(partial(_settle, reply, name, msg))


def _settle(reply: asyncio.Future[Any], name: str, msg: Message, task: asyncio.Task[Any]) -> None:
    if reply.done():  # the asker gave up (its timeout) or went away
        return
    if task.cancelled():
        reply.set_exception(stopped_error(name))
        return
    exc = task.exception()
    if exc is None:
        reply.set_result(task.result())
    elif isinstance(exc, PeerkitError):
        reply.set_exception(exc)
    else:
        reply.set_exception(HandlerFailed(f"{name} failed on {type(msg).__name__}: {exc!r}"))


def _expire(fut: asyncio.Future[Any], name: str, msg: Message, timeout: float | None) -> None:
    if not fut.done():
        fut.set_exception(
            RequestTimeout(f"{name} did not answer {type(msg).__name__} within {timeout}s")
        )


class _Done:
    """An awaitable that is already complete (what ``tell`` returns when there was room)."""

    __slots__ = ()

    def __await__(self):
        return
        yield


_DONE = _Done()


def fail_letter(letter: Letter, exc: BaseException) -> None:
    reply = letter[1]
    if reply is not None and not reply.done():
        reply.set_exception(exc)


def stopped_error(name: str) -> PeerkitError:
    return ActorStopped(f"actor {name!r} stopped before answering")
