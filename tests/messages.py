"""Message types and actors shared by the test suites (and the subprocess peers they start)."""

from __future__ import annotations

import asyncio

from peerkit import Actor, Context, Event, Message, Request, handler


class Echo(Request, tag="test.Echo"):
    text: str
    blob: bytes = b""


class Echoed(Message, tag="test.Echoed"):
    text: str
    sender: str | None = None
    blob: bytes = b""


class Crash(Request, tag="test.Crash"):
    pass


class Hold(Request, tag="test.Hold"):
    """Handled only when the test releases it (or after ``seconds``)."""

    seconds: float = 30.0


class Count(Request, tag="test.Count"):
    pass


class Counted(Message, tag="test.Counted"):
    events: int
    notes: int


class Note(Message, tag="test.Note"):
    text: str


class Posted(Event, tag="test.Posted", topic="test.posts"):
    n: int


class NeverHandled(Request, tag="test.NeverHandled"):
    pass


class EchoActor(Actor):
    mailbox_size = 64
    released: asyncio.Event | None = None

    def __init__(self) -> None:
        self.events: list[int] = []
        self.notes = 0

    @handler
    async def echo(self, msg: Echo, ctx: Context) -> Echoed:
        return Echoed(text=msg.text, sender=ctx.sender, blob=msg.blob)

    @handler
    async def crash(self, msg: Crash) -> None:
        raise RuntimeError("deliberate crash")

    @handler
    async def hold(self, msg: Hold) -> Echoed:
        await asyncio.sleep(msg.seconds)
        return Echoed(text="held")

    @handler
    async def posted(self, msg: Posted) -> None:
        self.events.append(msg.n)

    @handler
    async def note(self, msg: Note) -> None:
        self.notes += 1

    @handler
    async def count(self, msg: Count) -> Counted:
        return Counted(events=len(self.events), notes=self.notes)
