"""The sample app's message types: the wire contract between its peers."""

from __future__ import annotations

from typing import Annotated

import msgspec

from peerkit import Event, Message, Request

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Greeting(Message, tag="sample.Greeting"):
    text: str
    by: str


class Greet(Request, tag="sample.Greet", reply=Greeting):
    name: Name


class Relay(Request, tag="sample.Relay", reply=Greeting):
    """Ask a peer to greet another peer on our behalf (a request that makes a request)."""

    to: str
    name: Name


class ChatPosted(Event, tag="sample.ChatPosted", topic="sample.chat"):
    author: str
    text: Annotated[str, msgspec.Meta(max_length=1000)]


class Announce(Request, tag="sample.Announce"):
    """Ask a peer to publish chat messages once ``subscribers`` peers listen on the topic."""

    texts: list[str]
    subscribers: int = 1


class Inbox(Request, tag="sample.Inbox"):
    pass


class InboxContents(Message, tag="sample.InboxContents"):
    messages: list[ChatPosted]
