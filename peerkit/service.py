"""Services: the app developer's actors, with injected dependencies, middleware and validation.

    class Notes(NotesService):                      # the base is generated from schemas/notes.yaml
        middleware = [log_calls]

        def __init__(self, storage: StorageClient, config: PeerConfig) -> None:
            self.storage = storage                  # injected by name when the node starts it

        async def save(self, msg: Save, ctx: Context) -> Saved:
            cid = await self.storage.put(msg.body)
            return Saved(cid=cid)

What a service adds to a plain :class:`~peerkit.actor.Actor`:

- **Dependency injection**: ``__init__`` parameters are filled by name from the node
  (:data:`PROVIDERS`); the test kit's ``make_actor`` fills them from fakes.
- **Validation in and out**: every message is checked against its type's constraints before the
  handler runs (messages built in-process skip msgspec's decode-time checks otherwise), and a reply
  must be the declared reply type and valid too. Bad input is answered ``ValidationFailed``
  naming the field and never reaches the handler; a bad reply is the handler's fault
  (``HandlerFailed``), reported without crashing the service.
- **Middleware**: functions ``async def mw(service, msg, ctx, call_next)`` wrapped around every
  handler, outermost first, for cross-cutting concerns (logging, timing, access checks).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from .actor import LOCAL, Actor, Context, Later
from .errors import (
    ConfigError,
    HandlerFailed,
    NotImplementedHandler,
    PeerkitError,
    ValidationFailed,
)
from .extension import extension_names
from .messages import Message, Request
from .router import Ack

if TYPE_CHECKING:
    from .node import Node

Next = Callable[[Message, Context], Awaitable[Any]]
Middleware = Callable[["Service", Message, Context, Next], Awaitable[Any]]


def _family(name: str) -> Callable[[Node], Any]:
    return lambda node: node.client(name)


#: what a service's ``__init__`` may ask for, by parameter name -> how the node provides it:
#: the node, its config, and the client of every built-in family (peerkit.extension.BUILTIN)
PROVIDERS: dict[str, Callable[[Node], Any]] = {
    "node": lambda node: node,
    "config": lambda node: getattr(node, "config"),  # noqa: B009 (Actor declares no config)
    **{name: _family(name) for name in extension_names()},
}


class Service(Actor):
    """Base class of app services (generated service bases derive from it)."""

    #: wrapped around every handler, first = outermost
    middleware: ClassVar[Sequence[Middleware]] = ()
    #: check incoming messages and outgoing replies against their types' constraints
    validate: ClassVar[bool] = True
    #: the schema's service name (set by generated bases): its HTTP routes are
    #: ``/api/{service_name}/{handler}`` (gateway/api.py)
    service_name: ClassVar[str | None] = None

    @classmethod
    def dependencies(cls) -> list[str]:
        """The names ``__init__`` asks for (parameters without defaults first)."""
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    @classmethod
    def factory(cls, provide: Callable[[str], Any]) -> Callable[[], Service]:
        """A zero-argument factory (what the supervisor calls on every (re)start)."""
        params = inspect.signature(cls.__init__).parameters
        unknown = [
            name
            for name in cls.dependencies()
            if name not in PROVIDERS and params[name].default is inspect.Parameter.empty
        ]
        if unknown:
            raise ConfigError(
                f"{cls.__name__}.__init__ asks for {', '.join(map(repr, unknown))},"
                " which peerkit cannot provide",
                hint=f"a service may ask for: {', '.join(PROVIDERS)}",
            )
        wanted = [name for name in cls.dependencies() if name in PROVIDERS]

        def build() -> Service:
            return cls(**{name: provide(name) for name in wanted})

        build.actor_type = cls  # type: ignore[attr-defined]  # read by Supervisor.spawn
        return build

    def dispatch_table(self) -> dict[type[Message], tuple[Callable[..., Any], bool]]:
        table = {}
        for msg_type, spec in self._handlers.items():
            method = getattr(self, spec.method)
            call: Next = method if spec.wants_context else _drop_context(method)
            if self.validate:
                call = partial(_validated, self, msg_type, spec.method, call)
            for mw in reversed(self.middleware):
                call = _wrap(mw, self, call)
            table[msg_type] = (call, True)
        return table

    def not_implemented(self, msg: Message) -> NotImplementedHandler:
        """The error a generated stub raises until its handler is written."""
        return NotImplementedHandler(
            f"{type(self).__name__} has no handler body for {type(msg).__name__} yet",
            hint=f"write it in {type(self).__module__}",
        )

    async def receive(self, msg: Message, ctx: Context = LOCAL) -> Any:
        entry = self.dispatch_table().get(type(msg))
        if entry is None:
            return await super().receive(msg, ctx)
        return await entry[0](msg, ctx)


def _wrap(mw: Middleware, service: Service, inner: Next) -> Next:
    async def call(msg: Message, ctx: Context) -> Any:
        return await mw(service, msg, ctx, inner)

    return call


def _drop_context(method: Callable[[Message], Awaitable[Any]]) -> Next:
    async def call(msg: Message, ctx: Context) -> Any:
        return await method(msg)

    return call


_decoders: dict[type, msgspec.msgpack.Decoder[Any]] = {}
_encoder = msgspec.msgpack.Encoder()


def check(msg: Message) -> None:
    """ValidationFailed naming the field when ``msg`` breaks its type's constraints.

    A Struct built in Python is not checked (msgspec checks on decode), so this round-trips it.
    """
    msg_type = type(msg)
    decoder = _decoders.get(msg_type)
    if decoder is None:
        decoder = _decoders[msg_type] = msgspec.msgpack.Decoder(msg_type)
    try:
        decoder.decode(_encoder.encode(msg))
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{msg_type.__name__}: {exc}") from None


async def _validated(
    service: Service, msg_type: type[Message], method: str, call: Next, msg: Message, ctx: Context
) -> Any:
    check(msg)
    result = await call(msg, ctx)
    if not issubclass(msg_type, Request):
        return result
    if result.__class__ is Later:
        # answered later: the answer is checked when it comes
        return service.answer_later(_checked_later(result.task, service, msg_type, method))
    _check_reply(result, service, msg_type, method)
    return result


async def _checked_later(
    answer: Awaitable[Any], service: Service, msg_type: type[Request], method: str
) -> Any:
    try:
        result = await answer
    except PeerkitError:
        raise
    except Exception as exc:
        # The work's own task has reported the crash: this one only answers.
        raise HandlerFailed(f"{service.name} failed on {msg_type.__name__}: {exc!r}") from None
    _check_reply(result, service, msg_type, method)
    return result


def _check_reply(result: Any, service: Service, msg_type: type[Request], method: str) -> None:
    expected = msg_type.__peerkit_reply__
    if isinstance(expected, str):
        from .messages import default_registry

        expected = default_registry.get(expected)
    if result is not None and not isinstance(result, Ack):
        where = f"{type(service).__name__}.{method}"
        if isinstance(expected, type) and not isinstance(result, expected):
            raise HandlerFailed(
                f"{where} returned {type(result).__name__}, expected {expected.__name__}"
            )
        if isinstance(result, Message):
            try:
                check(result)
            except ValidationFailed as exc:
                raise HandlerFailed(f"{where} returned an invalid reply: {exc}") from None


async def log_calls(service: Service, msg: Message, ctx: Context, call_next: Next) -> Any:
    """Middleware: one structlog event per handled message, with its duration and outcome
    (``later`` for a handler that answers later: the duration is then its turn's)."""
    began = perf_counter()
    outcome = "ok"
    try:
        result = await call_next(msg, ctx)
        if result.__class__ is Later:
            outcome = "later"
        return result
    except Exception as exc:
        outcome = getattr(exc, "code", type(exc).__name__)
        raise
    finally:
        service.log.info(
            "handled",
            type=type(msg).__name__,
            remote=ctx.sender,
            ms=round((perf_counter() - began) * 1000, 3),
            outcome=outcome,
        )
