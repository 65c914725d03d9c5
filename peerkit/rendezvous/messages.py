"""Rendezvous messages."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..messages import Message, Request

Namespace = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class Registered(Message, tag="rendezvous.Registered"):
    ttl: float


class Register(Request, tag="rendezvous.Register", reply=Registered):
    namespace: Namespace
    addrs: Annotated[list[str], msgspec.Meta(max_length=32)]
    ttl: float = 7200.0


class Unregister(Request, tag="rendezvous.Unregister"):
    namespace: Namespace


class PeerRecord(msgspec.Struct, frozen=True):
    peer: str
    addrs: list[str]
    namespace: str
    ttl: float


class Discovered(Message, tag="rendezvous.Discovered"):
    registrations: list[PeerRecord]
    cookie: bytes


class Discover(Request, tag="rendezvous.Discover", reply=Discovered):
    namespace: str = ""
    limit: int = 100
    cookie: bytes = b""


class Reach(Message, tag="rendezvous.Reach"):
    #: the addresses a fresh dial from the rendezvous point reached the asker at
    reachable: list[str] = []


class CheckReach(Request, tag="rendezvous.CheckReach", reply=Reach):
    """Ask a rendezvous point to dial these addresses of ours back (AutoNAT's question):
    only addresses at the IP our connection comes from are dialled, by a fresh host."""

    addrs: Annotated[list[str], msgspec.Meta(max_length=8)]
