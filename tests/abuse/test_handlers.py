"""Every message a stranger may send, valid by its schema but with values the stranger chose,
reaches its handler and crashes no actor.

The decoder fuzzing (test_decoders.py) stops where msgspec accepts a message; what a handler
then does with a field (index it, parse it, look it up) is tested here. A victim node with
every built-in family (and a collaboration identity, so the document handlers do their work)
receives, from a peer, messages of every registered type built from its schema by a seeded
generator: boundary numbers, empty and long strings, bytes of every length a field allows,
deep ``Any`` values. Requests must be answered (a value or a typed error); nothing may
restart an actor; the victim must still serve a well-formed request after.

``make soak`` runs many more messages per type (``PEERKIT_SOAK``).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from typing import Any

import msgspec
import pytest

import peerkit.auth.messages
import peerkit.dcs.messages
import peerkit.naming.messages
import peerkit.rendezvous.messages
import peerkit.storage.messages  # noqa: F401  (registers the built-in message types)
from peerkit.config import LimitsConfig
from peerkit.dcs.crypto import Identity
from peerkit.errors import PeerkitError
from peerkit.messages import Event, Request, default_registry
from peerkit.storage.messages import PinList, PinLs
from peerkit.testing import wait_for

PER_TYPE = 400 if os.environ.get("PEERKIT_SOAK") else 25

mi = msgspec.inspect


class Values:
    """Python values fitting a msgspec type, biased to the edges a handler may not expect."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def of(self, t: Any, depth: int = 0) -> Any:
        r = self.rng
        if isinstance(t, mi.AnyType):
            return self.any(depth)
        if isinstance(t, mi.NoneType):
            return None
        if isinstance(t, mi.BoolType):
            return r.random() < 0.5
        if isinstance(t, mi.IntType):
            lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else -(2**63))
            hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else 2**64 - 1)
            return r.choice([lo, hi, 0 if lo <= 0 <= hi else lo, r.randint(lo, hi), lo + 1])
        if isinstance(t, mi.FloatType):
            return r.choice([0.0, -1.5, 1e308, -1e-308, r.uniform(-1e9, 1e9)])
        if isinstance(t, mi.StrType):
            if t.pattern is not None:
                return self.matching(t.pattern, t.max_length)
            return self.text(t.min_length or 0, t.max_length)
        if isinstance(t, (mi.BytesType, mi.ByteArrayType)):
            lo, hi = t.min_length or 0, t.max_length if t.max_length is not None else 300
            n = r.choice([lo, hi, r.randint(lo, min(hi, lo + 64))])
            return r.randbytes(min(n, 70_000))
        if isinstance(t, mi.LiteralType):
            return r.choice(t.values)
        if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            n = self.count(t.min_length, t.max_length)
            return [self.of(t.item_type, depth + 1) for _ in range(n)]
        if isinstance(t, mi.TupleType):
            return [self.of(u, depth + 1) for u in t.item_types]
        if isinstance(t, mi.DictType):
            n = self.count(t.min_length, t.max_length)
            return {self.key(t.key_type): self.of(t.value_type, depth + 1) for _ in range(n)}
        if isinstance(t, mi.UnionType):
            return self.of(r.choice(t.types), depth)
        if isinstance(t, mi.StructType):
            return self.struct(t, depth)
        if isinstance(t, mi.Metadata):
            return self.of(t.type, depth)
        raise Unsupported(t)

    def struct(self, t: Any, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if t.tag_field is not None:
            out[t.tag_field] = t.tag
        for f in t.fields:
            if f.required or self.rng.random() < 0.7:
                out[f.encode_name] = self.of(f.type, depth + 1)
        return out

    def count(self, lo: int | None, hi: int | None) -> int:
        lo = lo or 0
        hi = min(hi if hi is not None else 4, lo + 4)
        return self.rng.randint(lo, max(lo, hi))

    def key(self, t: Any) -> Any:
        value = self.of(t)
        return value if isinstance(value, (str, int, bytes)) else str(value)

    def text(self, lo: int, hi: int | None) -> str:
        r = self.rng
        hi = hi if hi is not None else 5000
        pool = ["", "a", "..", "/", "\x00", "é", "🦀", "did:key:z", "bafy", "%s", "../../etc"]
        s = r.choice(pool) * r.choice([1, 2, 50])
        if not lo <= len(s) <= hi:  # padded or cut to a length the field allows
            n = r.choice([lo, min(hi, lo + 8), min(hi, 5000)])
            s = (s + "x" * n)[:n]
        return s

    def matching(self, pattern: str, max_length: int | None) -> str:
        # the schemas' patterns are simple; a value that does not fit is refused by the
        # decoder, which test_decoders.py covers: try a few shapes, keep one that fits
        r = self.rng
        for candidate in (
            "invite",
            "refresh",
            "0" * 64,
            "f" * 64,
            "a" * 32,
            "12",
            "0",
            "x",
            "z" + "1" * 40,
            "".join(r.choice("0123456789abcdef") for _ in range(64)),
        ):
            if re.search(pattern, candidate) and (
                max_length is None or len(candidate) <= max_length
            ):
                return candidate
        raise Unsupported(pattern)

    def any(self, depth: int) -> Any:
        r = self.rng
        if depth > 12 or r.random() < 0.4:
            return r.choice([None, True, 0, -1, 2**63, 1.5, "", "x" * 100, b"\x00\xff"])
        if r.random() < 0.5:
            return [self.any(depth + 1) for _ in range(r.randint(0, 3))]
        return {self.text(0, 8): self.any(depth + 1) for _ in range(r.randint(0, 3))}


class Unsupported(Exception):
    pass


def messages_a_peer_may_send(seed: int) -> list[Any]:
    """``PER_TYPE`` schema-valid instances of every registered request and event type."""
    values = Values(seed)
    out = []
    for cls in sorted(default_registry.types(), key=lambda c: c.__peerkit_tag__):
        if not issubclass(cls, (Request, Event)):
            continue
        info = mi.type_info(cls)
        made = 0
        for _ in range(PER_TYPE * 4):
            if made == PER_TYPE:
                break
            try:
                raw = values.struct(info, 0)
                out.append(msgspec.convert(raw, cls))
                made += 1
            except (Unsupported, msgspec.ValidationError):
                continue
    return out


@pytest.mark.timeout(600)
async def test_schema_valid_messages_from_a_stranger_crash_no_actor(make_nodes):
    generous = LimitsConfig(
        open_writes_per_peer_per_minute=1_000_000,
        open_write_bytes_per_peer_per_minute=1_000_000_000,
        open_writes_per_minute=1_000_000,
        max_requests_per_peer=1_000,
    )
    victim, stranger = await make_nodes(2, "memory", limits=generous)
    await victim.dcs.use_identity(Identity.from_seed(b"\x07" * 32))
    await victim.dcs.create()  # so document handlers have a document to work on
    sent = messages_a_peer_may_send(seed=21)
    assert len({type(m) for m in sent}) >= 30  # the generator covers the built-in types

    async def deliver(msg: Any) -> None:
        try:
            if isinstance(msg, Request):
                await stranger.request(victim.peer_id, msg, timeout=10)
            else:
                await stranger.send(victim.peer_id, msg)
        except PeerkitError:
            pass  # a typed refusal is a fine answer

    for start in range(0, len(sent), 16):
        await asyncio.gather(*(deliver(m) for m in sent[start : start + 16]))
    # events have no answer: they are routed in order, so by the time this request is
    # answered they are in mailboxes; then wait until the actors have handled them
    assert isinstance(await stranger.request(victim.peer_id, PinLs(), timeout=10), PinList)
    await wait_for(
        lambda: all(not ref.mailbox and ref.current is None for ref in victim.supervisor.children),
        what="the victim's actors to handle what they were sent",
    )
    crashed = {
        ref.name: victim.supervisor.restarts(ref)
        for ref in victim.supervisor.children
        if victim.supervisor.restarts(ref)
    }
    assert not crashed, f"actors restarted: {crashed} (the log says which message)"
    assert isinstance(await stranger.request(victim.peer_id, PinLs(), timeout=10), PinList)
