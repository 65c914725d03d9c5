"""The greeter service: its handlers are yours to write.

`peerkit generate` adds a stub here for each new request or event in the schema and keeps
the import below up to date; it never changes a handler you wrote.
Schema: sample_app/schemas/greeter.yaml
"""

from __future__ import annotations

from peerkit import Context, PeerConfig
from peerkit.service import log_calls

from ..generated.greeter import (
    Announce,
    ChatPosted,
    Greet,
    GreeterService,
    Greeting,
    Inbox,
    InboxContents,
    Relay,
)


class Greeter(GreeterService):
    """Greets, relays, announces and collects chat messages."""

    middleware = [log_calls]

    def __init__(self, config: PeerConfig) -> None:  # injected by the node
        self.me = config.name
        self.inbox_messages: list[ChatPosted] = []

    async def greet(self, msg: Greet, ctx: Context) -> Greeting:
        return Greeting(text=f"hello {msg.name}", by=self.me)

    async def relay(self, msg: Relay, ctx: Context) -> Greeting:
        reply: Greeting = await self.node.request(msg.to, Greet(name=msg.name))
        return reply

    async def chat(self, msg: ChatPosted, ctx: Context) -> None:
        self.inbox_messages.append(msg)

    async def announce(self, msg: Announce, ctx: Context) -> None:
        await self.node.wait_for_subscribers(ChatPosted, msg.subscribers)
        for text in msg.texts:
            await self.node.publish(ChatPosted(author=self.me, text=text))

    async def inbox(self, msg: Inbox, ctx: Context) -> InboxContents:
        return InboxContents(messages=self.inbox_messages)
