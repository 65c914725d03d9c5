"""Rendezvous actors: the server keeps the registry; the client registers this peer, refreshes
its registrations and keeps connections to the app's own nodes it discovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..actor import Actor, Context, handler
from ..addresses import names_peer
from ..errors import PeerkitError
from .messages import (
    CheckReach,
    Discover,
    Discovered,
    PeerRecord,
    Reach,
    Register,
    Registered,
    Unregister,
)
from .registry import Registry, RendezvousError


class RendezvousServer(Actor):
    mailbox_size = 4096

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry  # owned by the node: survives restarts
        self.clock = clock

    @handler(open_write=True)
    async def register(self, msg: Register, ctx: Context) -> Registered:
        if ctx.sender is None:
            raise RendezvousError("register through the network (the sender is the peer)")
        # Only addresses of the sender itself: a peer cannot point others at someone else.
        addrs = [a for a in msg.addrs if names_peer(a, ctx.sender)]
        if not addrs:
            raise RendezvousError(
                "none of the addresses is a dialable address of the sender",
                hint="register full multiaddrs ending in /p2p/<your peer id>",
            )
        reg = self.registry.register(msg.namespace, ctx.sender, addrs, msg.ttl, self.clock())
        return Registered(ttl=reg.expires - self.clock())

    @handler
    async def unregister(self, msg: Unregister, ctx: Context) -> None:
        if ctx.sender is not None:
            self.registry.unregister(msg.namespace, ctx.sender)

    @handler
    async def discover(self, msg: Discover) -> Discovered:
        now = self.clock()
        regs, cookie = self.registry.discover(
            msg.namespace, now, limit=msg.limit, cookie=msg.cookie
        )
        return Discovered(
            registrations=[
                PeerRecord(r.peer, list(r.addrs), r.namespace, r.expires - now) for r in regs
            ],
            cookie=cookie,
        )


class ReachChecker(Actor):
    """A rendezvous point's answer to "can others dial me?". Its own actor: a dial-back takes
    seconds, and registrations and discovery must not queue behind it (this mailbox does:
    one dial-back at a time, which also bounds what askers can make us spend)."""

    mailbox_size = 256

    @handler(open_write=True)  # dialling back costs us: charged to the asker's quota
    async def check_reach(self, msg: CheckReach, ctx: Context) -> Reach:
        """Dial the asker back at the addresses it names, from a fresh host: only those at
        the IP its connection comes from (we never dial third parties on anyone's behalf)."""
        if ctx.sender is None:
            raise RendezvousError("ask through the network (the sender is the peer)")
        ip = self.node.remote_ip(ctx.sender)
        if ip is None:
            raise RendezvousError("cannot tell where you connect from (a relayed connection?)")
        addrs = [
            a
            for a in msg.addrs
            if names_peer(a, ctx.sender) and "/p2p-circuit" not in a and _ip_of(a) == ip
        ]
        return Reach(reachable=await self.node.dial_back(ctx.sender, addrs) if addrs else [])


def _ip_of(addr: str) -> str | None:
    parts = addr.split("/")
    return parts[2] if len(parts) > 2 and parts[1] in ("ip4", "ip6") else None


#: how often a peer asks whether others can dial it (its network may change)
REACH_EVERY = 600.0


class RendezvousClient(Actor):
    """Registers this peer under its namespaces at every rendezvous point and keeps them fresh;
    discovers the app's own nodes and keeps connections to them (they are dialled first)."""

    def __init__(self, namespaces: list[str], prefer: list[str], ttl: float = 60.0) -> None:
        self.namespaces = namespaces
        self.prefer = prefer  # namespaces whose peers we connect to and keep
        self.ttl = ttl
        self.preferred: dict[str, list[str]] = {}
        self._reach_checked_at: float | None = None

    async def on_start(self) -> None:
        self.start_task(self._loop(), name="register-and-discover")

    def points(self) -> list[str]:
        return [a.rsplit("/p2p/", 1)[-1] for a in self.node.config.bootstrap]

    async def _loop(self) -> None:
        backoff = 0.25
        while True:
            try:
                version = self.node.addrs_version
                await self.round()
                backoff = 0.25
                await self._until_renewal(version)
            except PeerkitError as exc:
                self.log.info("rendezvous.retry", error=str(exc), retry_in=backoff)
                await self.node.clock.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _until_renewal(self, version: int) -> None:
        """Renew well before the TTL, or at once when our addresses change (a relay slot
        taken: others must learn the relayed address now, not a third of a TTL later)."""
        renew = asyncio.ensure_future(self.node.clock.sleep(max(1.0, self.ttl / 3)))
        changed = asyncio.ensure_future(self.node.addrs_changed_since(version))
        try:
            await asyncio.wait({renew, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            renew.cancel()
            changed.cancel()

    async def round(self) -> None:
        """Register everywhere, then discover and dial the preferred peers we lack."""
        connected = set(self.node.peers())
        points = [p for p in self.points() if p in connected]
        if not points:
            raise RendezvousError("no rendezvous point connected yet")
        self._check_reach_soon(points[0])
        for point in points:
            for ns in self.namespaces:
                await self.node.request(
                    point, Register(namespace=ns, addrs=self.node.addrs(), ttl=self.ttl), timeout=5
                )
            for ns in self.prefer:
                found: Discovered = await self.node.request(
                    point, Discover(namespace=ns), timeout=5
                )
                peers = [r for r in found.registrations if r.peer != self.node.peer_id]
                self.preferred[ns] = [r.peer for r in peers]
                for rec in peers:
                    self.node.learn_addrs(rec.peer, rec.addrs)
                    if rec.peer not in connected and rec.addrs:
                        try:
                            await self.node.connect(rec.addrs)  # each address in turn
                        except PeerkitError as exc:
                            self.log.info(
                                "rendezvous.dial_failed", remote=rec.peer[-8:], error=str(exc)
                            )

    def _check_reach_soon(self, point: str) -> None:
        """Now and then, in the background (a dial-back may take seconds; registering must
        not wait for it)."""
        now = self.node.clock.monotonic()
        if self._reach_checked_at is not None and now - self._reach_checked_at < REACH_EVERY:
            return
        self._reach_checked_at = now
        self.start_task(self._check_reach(point), name="check-reach")

    async def _check_reach(self, point: str) -> None:
        """Ask a rendezvous point to dial us back: the answer decides whether we need a relay
        (``relay.reserve: auto``)."""
        mine = [a for a in self.node.addrs() if "/p2p-circuit" not in a]
        try:
            reply: Reach = await self.node.request(point, CheckReach(addrs=mine[:8]), timeout=30)
        except PeerkitError as exc:  # an older point, or it cannot tell: keep our guess
            self.log.debug("rendezvous.reach_unknown", error=str(exc))
            return
        reachable = bool(reply.reachable)
        self.log.info("rendezvous.reachability", reachable=reachable, via=point[-8:])
        await self.node.set_reachable(reachable)
