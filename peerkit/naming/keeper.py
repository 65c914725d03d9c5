"""The name keeper: an app node keeps what its users publish while they are away.

A peer handed a delegation granting it ``name/republish`` on a name (``node.auth.hold``; at
login, ``Session.keep_with``) keeps that name for its owner, automatically and within quotas
per user (the delegation's issuer: the user's wallet):

- it pushes the name's newest record to every peer that connects, with the delegation as
  proof (``naming.Republish``), and stores it in the DHT, again every 4 hours;
- it fetches and pins the content the record names (``kept/<name>``; the Me DAG for the Me
  name), so the content is served, and provided in the DHT, with its owner offline; a new
  record moves the pin.

It stops when the delegation expires, is revoked, or the keeper drops the name
(``node.naming.drop_kept``). ``node.naming.kept()`` lists what is kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..actor import Actor, handler
from ..auth.guard import name_owner
from ..auth.tokens import DELEGATION, Capability, Token
from ..blocks import parse_cid
from ..errors import PeerkitError
from ..messages import Message, Request
from .messages import Republish
from .routing import NAMESPACE

REPUBLISH = "name/republish"
KEPT_PREFIX = "kept/"
DROPPED_PIN = "keeper/dropped"
#: how often kept names are looked at again (new records, expired delegations)
KEEP_EVERY = 60.0
#: how often a kept record is stored in the DHT again (IPNS republishes every 4 h)
REPUT_EVERY = 4 * 3600.0
#: how long KeepNow waits for what it pinned to be announced in the DHT before answering (a
#: 50-peer DHT announces in ~1 s; kept under the 10 s a request waits by default)
ANNOUNCE_WAIT = 8.0


class KeptName(Message, tag="naming.KeptName"):
    name: str
    #: the user it is kept for (the delegation's issuer)
    user: str
    #: the content pinned for it ("" when the record names no /ipfs/ path, or over quota)
    root: str = ""
    bytes: int = 0
    sequence: int = -1


class KeptNames(Message, tag="naming.KeptNames"):
    names: list[str]
    pushed: int
    kept: list[KeptName] = []
    #: False when KeepNow answered before every kept root could be found by CID (its DHT
    #: announcement still queued after ANNOUNCE_WAIT; it follows on its own)
    announced: bool = True


class KeepNow(Request, tag="naming.KeepNow", reply=KeptNames):
    """Look at every kept name now (pin new content, store records in the DHT) and push each
    to every connected peer (instead of waiting for the next round or connection). Answers
    once the content kept can be found by CID (its DHT announcements made, up to 8 s)."""


class ListKept(Request, tag="naming.ListKept", reply=KeptNames):
    """What this peer keeps for others (local only)."""


class DropKept(Request, tag="naming.DropKept", reply=KeptNames):
    """Stop keeping ``name``: its pin and the delegation held for it go (local only)."""

    name: str


@dataclass
class _Kept:
    user: str
    root: str = ""
    bytes: int = 0
    sequence: int = -1
    put_at: float = float("-inf")


class NameKeeper(Actor):
    def __init__(self, max_names_per_user: int = 100, max_bytes_per_user: int = 256 << 20) -> None:
        self.max_names = max_names_per_user
        self.max_bytes = max_bytes_per_user
        self.state: dict[str, _Kept] = {}
        #: names dropped by this peer's operator (kept on disk: a restart does not bring
        #: them back while their delegation lasts)
        self.dropped: set[str] = set()

    async def on_start(self) -> None:
        for pin in await self.node.storage.pins():
            if pin.name == DROPPED_PIN:
                stored = await self.node.storage.get(pin.root)
                self.dropped = set(stored.get("names", [])) if isinstance(stored, dict) else set()
        self.watch_peers(self._peer_changed)
        self.start_task(self._keep_regularly(), name="keep")

    def kept(self) -> dict[str, Token]:
        """Name -> the delegation that lets this peer republish it (valid now), at most
        ``max_names_per_user`` names per user."""
        me, now = self.node.auth.did, self.node.clock.now()
        out: dict[str, Token] = {}
        per_user: dict[str, int] = {}
        auth = self.node.auth.ext
        for token in sorted(auth.tokens.values(), key=lambda t: t.cid):
            d = token.payload
            if token.kind != DELEGATION or d.aud != me or d.exp < now or d.nbf > now + 30:
                continue
            if auth.revocations.is_revoked(token.cid):
                continue
            for cap in token.caps():
                name = cap.with_.removeprefix("name:")
                if (
                    cap.with_.startswith("name:")
                    and "*" not in name
                    and name not in out
                    and name not in self.dropped
                    and cap.covers(Capability(cap.with_, REPUBLISH))
                    and d.sub == name_owner(cap.with_)  # what every verifier will require
                    and per_user.get(d.iss, 0) < self.max_names
                ):
                    out[name] = token
                    per_user[d.iss] = per_user.get(d.iss, 0) + 1
        return out

    # --- pushing records to peers ----------------------------------------------------------

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if connected and self.kept():
            self.start_task(self._push_to(peer), name="push")

    async def _push_to(self, peer: str) -> int:
        pushed = 0
        for name, grant in self.kept().items():
            record = await self.node.naming.resolve(name, local_only=True)
            if record is None:
                continue
            try:
                await self.node.auth.request(
                    peer,
                    Republish(name=name, record=record.raw),
                    grant,
                    capability=Capability(f"name:{name}", REPUBLISH),
                    timeout=10,
                )
                pushed += 1
            except PeerkitError as exc:
                self.log.info("name.keep_failed", name=name[:16], remote=peer[-8:], error=str(exc))
        return pushed

    # --- keeping content and DHT records --------------------------------------------------

    async def _keep_regularly(self) -> None:
        while True:
            await self._keep_all()
            await self.node.clock.sleep(KEEP_EVERY)

    async def _keep_all(self) -> None:
        kept = self.kept()
        for name in [n for n in self.state if n not in kept]:  # expired, revoked or dropped
            await self._let_go(name)
        for name, grant in kept.items():
            try:
                await self._keep(name, grant.payload.iss)
            except PeerkitError as exc:  # the next round tries again
                self.log.info("name.keep_content_failed", name=name[:16], error=str(exc))

    async def _keep(self, name: str, user: str) -> None:
        state = self.state.setdefault(name, _Kept(user))
        record = await self.node.naming.resolve(name)  # here, connected peers, then the DHT
        if record is None:
            return
        now = self.node.clock.monotonic()
        if record.sequence != state.sequence or now - state.put_at > REPUT_EVERY:
            if self.node.has("routing"):
                await self.node.routing.put_record(NAMESPACE, name, record.raw)
            state.put_at = now
        state.sequence = record.sequence
        value = record.value.decode(errors="replace")
        if not value.startswith("/ipfs/"):
            return
        root = parse_cid(value.removeprefix("/ipfs/").split("/")[0]).encode()
        if root == state.root:
            return
        used = sum(k.bytes for n, k in self.state.items() if k.user == user and n != name)
        left = self.max_bytes - used
        if left <= 0:
            self.log.warning("name.keep_over_quota", name=name[:16], user=user[-12:])
            return
        fetched = await self.node.storage.fetch(root, pin=KEPT_PREFIX + name, max_bytes=left)
        state.root, state.bytes = root, fetched.bytes
        self.log.info("name.content_kept", name=name[:16], root=root, bytes=fetched.bytes)

    async def _let_go(self, name: str) -> None:
        self.state.pop(name, None)
        try:
            await self.node.storage.unpin(KEPT_PREFIX + name)
        except PeerkitError:  # never pinned
            pass

    def _listing(self, pushed: int = 0, *, announced: bool = True) -> KeptNames:
        kept = [
            KeptName(name=n, user=k.user, root=k.root, bytes=k.bytes, sequence=k.sequence)
            for n, k in sorted(self.state.items())
        ]
        return KeptNames(names=sorted(self.kept()), pushed=pushed, kept=kept, announced=announced)

    @handler
    async def keep_now(self, msg: KeepNow) -> KeptNames:
        await self._keep_all()
        # The caller is about to tell its user "kept: log in anywhere": once the answer comes,
        # what is kept can be found by CID (the pins announce in the background; a second
        # device logging in at once raced them: "your Me DAG is published, but no connected
        # peer has its block"). Bounded: a slow DHT delays the answer, never loses it.
        roots = [k.root for k in self.state.values() if k.root]
        announced = await self.node.storage.until_announced(roots, timeout=ANNOUNCE_WAIT)
        if not announced:
            self.log.info("name.keep_not_announced_yet", roots=len(roots))
        counts = await asyncio.gather(*(self._push_to(p) for p in self.node.peers()))
        return self._listing(sum(counts), announced=announced)

    @handler(local=True)
    async def list_kept(self, msg: ListKept) -> KeptNames:
        return self._listing()

    @handler(local=True)
    async def drop_kept(self, msg: DropKept) -> KeptNames:
        dropped = sorted(self.dropped | {msg.name})
        root = await self.node.storage.put({"names": dropped})
        await self.node.storage.pin(DROPPED_PIN, root)  # stored before it counts
        self.dropped = set(dropped)
        await self._let_go(msg.name)
        return self._listing()
