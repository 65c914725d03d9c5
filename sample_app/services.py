"""The sample app's service: greets, relays, announces and collects chat messages."""

from __future__ import annotations

from peerkit import Actor, Context, handler

from .messages import (
    Announce,
    ChatPosted,
    Greet,
    Greeting,
    Inbox,
    InboxContents,
    Relay,
)


class Greeter(Actor):
    def __init__(self) -> None:
        self.inbox: list[ChatPosted] = []

    @property
    def me(self) -> str:
        return self.node.config.name

    @handler
    async def greet(self, msg: Greet, ctx: Context) -> Greeting:
        self.log.info("greeted", name=msg.name, remote=(ctx.sender or "local")[-8:])
        return Greeting(text=f"hello {msg.name}", by=self.me)

    @handler
    async def relay(self, msg: Relay) -> Greeting:
        reply: Greeting = await self.node.request(msg.to, Greet(name=msg.name))
        return reply

    @handler
    async def announce(self, msg: Announce) -> None:
        await self.node.wait_for_subscribers(ChatPosted, msg.subscribers)
        for text in msg.texts:
            await self.node.publish(ChatPosted(author=self.me, text=text))

    @handler
    async def chat(self, msg: ChatPosted, ctx: Context) -> None:
        self.inbox.append(msg)

    @handler
    async def inbox_contents(self, msg: Inbox) -> InboxContents:
        return InboxContents(messages=self.inbox)
