"""Typed messages: msgspec Structs with explicit, stable tags.

A message type is declared once and used everywhere, in-process and on the wire::

    class Greet(Request, tag="demo.Greet", reply=Greeting):
        name: str

    class Greeting(Message, tag="demo.Greeting"):
        text: str

    class ChatPosted(Event, tag="demo.ChatPosted", topic="demo.chat"):
        text: str

Tags are the wire contract: renaming a class is free, changing its tag is a breaking change. Wire
structs accept unknown fields (a newer peer may add some); new fields must get defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec

from .errors import PeerkitError


class RegistryError(PeerkitError):
    code = "registry"


class _MessageMeta(msgspec.StructMeta):
    """Takes peerkit's class keywords (``reply=``, ``topic=``) and registers tagged classes.

    msgspec's own ``__init_subclass__`` runs before the struct config is final, so registration
    happens here, after the class exists.
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        reply: type[Message] | str | None = None,
        topic: str | None = None,
        **kwargs: Any,
    ) -> Any:
        explicit_tag = kwargs.get("tag")
        cls: Any = super().__new__(mcls, name, bases, namespace, **kwargs)
        if reply is not None:
            cls.__peerkit_reply__ = reply
        if topic is not None:
            cls.__peerkit_topic__ = topic
        # its own, never inherited: what the wire encoder reads (None: never sent)
        cls.__peerkit_wire_tag__ = explicit_tag if isinstance(explicit_tag, str) else None
        if isinstance(explicit_tag, str):
            # Only explicit tags are registered: the tag is the wire contract, so it must be
            # written down, not derived from a class name someone may rename.
            cls.__peerkit_tag__ = explicit_tag
            if topic is None and getattr(cls, "__peerkit_topic__", None) is None:
                cls.__peerkit_topic__ = explicit_tag
            default_registry.register(cls)
        return cls


class Message(msgspec.Struct, kw_only=True, tag_field="type", metaclass=_MessageMeta):
    """Base of every peerkit message. Concrete messages pass an explicit ``tag=``."""

    __peerkit_tag__: ClassVar[str]
    __peerkit_wire_tag__: ClassVar[str | None]


class Request(Message):
    """A message that expects a reply; ``reply=`` names the reply type (class or tag)."""

    __peerkit_reply__: ClassVar[type[Message] | str | None] = None


class Event(Message):
    """A message published on a pubsub topic; ``topic=`` defaults to the tag."""

    __peerkit_topic__: ClassVar[str | None] = None


def tag_of(msg_type: type[Message]) -> str:
    tag = msg_type.__dict__.get("__peerkit_tag__")
    if tag is None:
        raise RegistryError(
            f"{msg_type.__qualname__} has no tag",
            hint='declare it as `class X(Message, tag="family.X")`',
        )
    return tag


def topic_of(event_type: type[Event]) -> str:
    topic = event_type.__peerkit_topic__
    if topic is None:
        raise RegistryError(f"{event_type.__qualname__} has no topic")
    return topic


class Registry:
    """Tags -> message types. One default registry collects every message class as it is defined."""

    def __init__(self) -> None:
        self._types: dict[str, type[Message]] = {}
        #: called after every change (decoders built from the registry drop their cache)
        self.listeners: list[Callable[[], None]] = []

    def register(self, msg_type: type[Message]) -> None:
        tag = tag_of(msg_type)
        existing = self._types.get(tag)
        if existing is not None and _qualified(existing) != _qualified(msg_type):
            raise RegistryError(
                f"tag {tag!r} is already used by {_qualified(existing)}",
                hint="every message type needs its own tag",
            )
        if existing is not msg_type:
            self._types[tag] = msg_type
            for listener in self.listeners:
                listener()

    def types(self) -> tuple[type[Message], ...]:
        return tuple(self._types.values())

    def get(self, tag: str) -> type[Message] | None:
        return self._types.get(tag)

    def __contains__(self, tag: object) -> bool:
        return tag in self._types

    def tags(self) -> list[str]:
        return sorted(self._types)


def _qualified(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


default_registry = Registry()
