"""The naming actor: verified name logs, announcements over pubsub, resolution from peers."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from .. import applog
from ..actor import Actor, Context, handler
from ..applog import LogState
from ..auth.guard import Requires, name_owner
from ..errors import PeerkitError
from ..feed import Feed
from ..ratelimit import Buckets, Rate
from .log import NameLog
from .messages import (
    AnnouncedDue,
    History,
    LearnRecord,
    NameHistory,
    NameRecordPublished,
    PublishRecord,
    RecordAccepted,
    Republish,
    Resolved,
    ResolveName,
)
from .records import NameRecord, RecordError, verify_record
from .routing import NAMESPACE

__all__ = ["NameHeads", "NamingActor"]

#: new head records per name, for local watchers (``node.naming.watch``)
NameHeads = Feed[str, NameRecord]

LEGACY_LOG_TYPE = "peerkit/name-log"
PIN_PREFIX = "naming/"
#: least time between two DHT puts of one name (the newest record goes at the end of it)
DHT_PUT_GAP = 1.0
#: how long a stopping peer spends putting the heads still waiting for the DHT
DHT_FLUSH_SECONDS = 3.0
#: announced records of one name held here taken per second (burst: ANNOUNCED_BURST); more
#: wait their turn in order, at most ANNOUNCED_WAITING per name (each taken is a stored write)
ANNOUNCED_PER_SECOND = 20.0
ANNOUNCED_BURST = 200.0
ANNOUNCED_WAITING = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


class NamingActor(Actor):
    mailbox_size = 4096

    def __init__(
        self, heads: NameHeads, clock: Callable[[], datetime] = utc_now, *, history: int = 1000
    ) -> None:
        self.heads = heads  # owned by the extension: watchers survive restarts
        self.clock = clock
        self.history_cap = history
        self.logs: dict[str, NameLog] = {}
        self.stored: dict[str, LogState] = {}  # each name's append-only log, as persisted
        self._dht_next: dict[str, bytes] = {}  # names whose newest head is on its way to the DHT
        #: announced records of held names over their name's rate, in order, waiting their turn
        self._waiting: dict[str, deque[tuple[int, bytes, str | None]]] = {}  # (sequence, ...)
        self._per_name = Buckets(
            Rate(ANNOUNCED_PER_SECOND, ANNOUNCED_BURST), clock=lambda: self.node.clock.monotonic()
        )

    async def on_start(self) -> None:
        # Each name's records are an append-only log pinned "naming/<name>"; its head carries
        # the current head record, so a restart reads only the newest `history` entries.
        storage = self.node.storage
        for pin in await storage.pins():
            if not pin.name.startswith(PIN_PREFIX):
                continue
            name = pin.name.removeprefix(PIN_PREFIX)
            try:
                value = await storage.get(pin.root)
                if isinstance(value, dict) and value.get("type") == LEGACY_LOG_TYPE:
                    await self._migrate(name, value["records"])
                    continue
                state = applog.load(value)
                raws = [state.meta["head"]] if isinstance(state.meta, dict) else []
                start = max(0, state.count - self.history_cap)
                raws += applog.read(state, storage.read_block, start)
            except (PeerkitError, KeyError, TypeError) as exc:
                self.log.error("name.log_unreadable", name=name[:16], error=str(exc))
                continue
            self.stored[name] = state
            self._restore(name, raws)

    def _restore(self, name: str, raws: list[bytes]) -> None:
        log = self._log(name)
        for raw in raws:
            try:  # history is kept once expired, but still verified
                log.add(verify_record(name, raw, now=self.clock(), check_expiry=False))
            except RecordError as exc:
                self.log.warning("name.stored_record_rejected", name=name[:16], error=str(exc))

    async def _migrate(self, name: str, records: list[bytes]) -> None:
        """A log written by peerkit before 0.3 (one block rewritten per record)."""
        self._restore(name, records)
        log = self.logs[name]
        await self._persist(name, [r.raw for r in log.history()], log.head(), fresh=True)
        self.log.info("name.log_migrated", name=name[:16], records=len(records))

    def _log(self, name: str) -> NameLog:
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = NameLog(name, cap=self.history_cap)
        return log

    async def _accept(
        self, name: str, raw: bytes, *, announce: bool, to_dht: bool = False
    ) -> RecordAccepted:
        record = verify_record(name, raw, now=self.clock())
        log = self._log(name)
        if not log.check(record):  # held already (or older than the history kept)
            return RecordAccepted(sequence=record.sequence, head=False)
        new_head = log.head_after(record)
        # Stored before it counts: a record that cannot be persisted is an error to the
        # publisher and never becomes the head (nor survives here only until a restart).
        await self._persist(name, [raw], new_head)
        log.add(record)
        is_head = log.head() is record
        if is_head:
            self.heads.put(name, record)
            self.log.info(
                "name.updated", name=name[:16], sequence=record.sequence, revoked=record.revoked
            )
            if announce:
                await self.node.publish(NameRecordPublished(name=name, record=raw))
            if to_dht:
                self._put_in_dht_soon(name, raw)
        return RecordAccepted(sequence=record.sequence, head=is_head)

    def _put_in_dht_soon(self, name: str, raw: bytes) -> None:
        """Store the new head at the peers closest to the name, beside the mailbox (it is
        stored here already: the DHT is how peers beyond the connected ones find it). A name
        published again while its put runs, or within ``DHT_PUT_GAP`` of it, is put once more
        afterwards, newest only: connected peers have every record from gossip at once, and
        peers beyond them need only the newest (a name updated 50 times a second cost a lookup
        and ~20 stores each time; the storers' own limit is 10 writes a second per peer)."""
        if not self.node.has("routing"):
            return
        first = name not in self._dht_next
        self._dht_next[name] = raw
        if first:
            self.start_task(self._put_in_dht(name), name="dht-put")

    async def _put_in_dht(self, name: str) -> None:
        last_put: float | None = None
        while (raw := self._dht_next.get(name)) is not None:
            clock = self.node.clock
            if last_put is not None:
                await clock.sleep(max(0.0, last_put + DHT_PUT_GAP - clock.monotonic()))
                raw = self._dht_next[name]  # the newest by now
            last_put = clock.monotonic()
            await self._put_once(name, raw)
            if self._dht_next.get(name) is raw:
                del self._dht_next[name]

    async def _put_once(self, name: str, raw: bytes) -> None:
        try:
            took = await self.node.routing.put_record(NAMESPACE, name, raw)
            self.log.debug("name.put_in_dht", name=name[:16], peers=took)
        except PeerkitError as exc:  # reached nobody: the next publish or refresh retries
            self.log.info("name.dht_put_failed", name=name[:16], error=str(exc))

    async def on_stop(self) -> None:
        """Heads still waiting for their DHT put (the gap between puts, or a put cut short by
        the stop) go now, within ``DHT_FLUSH_SECONDS``: a record published just before the
        peer stops must not stay off the DHT until its next republish. Actors stop before the
        transport closes, so the network is still there."""
        pending, self._dht_next = self._dht_next, {}
        if not pending:
            return
        try:
            async with asyncio.timeout(DHT_FLUSH_SECONDS):
                await asyncio.gather(*(self._put_once(n, raw) for n, raw in pending.items()))
        except TimeoutError:
            self.log.info("name.dht_flush_cut_short", names=len(pending))

    async def _persist(
        self, name: str, raws: list[bytes], head: NameRecord | None, *, fresh: bool = False
    ) -> None:
        state = self.stored.get(name)
        if state is None or fresh or state.count >= 2 * self.history_cap:
            # new, or compacted: a fresh log of the history kept (amortised O(1) per record)
            log = self.logs.get(name)
            kept = [r.raw for r in log.history()] if log is not None and not fresh else []
            state, raws = LogState(), kept + [r for r in raws if r not in kept]
        draft = state.copy()  # the kept state changes only once the blocks are stored
        blocks = applog.append(draft, raws, meta={"head": head.raw} if head else None)
        await self.node.storage.put_blocks(blocks, pin=PIN_PREFIX + name)
        self.stored[name] = draft

    @handler(open_write=True)  # anyone may publish a record signed by a name's key
    async def publish(self, msg: PublishRecord, ctx: Context) -> RecordAccepted:
        # Only our own publish goes to the DHT: a record another peer hands us is stored and
        # gossiped, not put at 20 more peers on its behalf (one request from a stranger would
        # cost us a lookup and 20 requests; its publisher, or a keeper, puts it itself).
        return await self._accept(msg.name, msg.record, announce=True, to_dht=ctx.sender is None)

    @handler(requires=Requires("name/republish", on="name:{name}", owner=name_owner))
    async def republish(self, msg: Republish, ctx: Context) -> RecordAccepted:
        self.log.info("name.republished_for_owner", name=msg.name[:16], by=(ctx.sender or "")[-8:])
        return await self._accept(msg.name, msg.record, announce=True)

    @handler
    async def announced(self, msg: NameRecordPublished, ctx: Context) -> None:
        """A record announced on gossip, charged by what it costs us. The peer it comes from
        forwards everyone's records, so its open-write quota (a few a second) is charged only
        for a name not held here: new state, which anyone can make (keys are free); past the
        quota it is dropped, and a peer that later resolves the name asks for it. A record of
        a name held here (a new version a watcher waits for) is never dropped for a quota:
        each name takes ``ANNOUNCED_PER_SECOND`` (after a burst), and more wait their turn in
        order (only records signed by the name's key and newer than any before them, so
        nobody else can fill or reorder a name's queue). Dropped, a record was lost for good:
        gossip does not send one twice, and a page showed an old version until the next."""
        name = msg.name
        if name not in self.logs:
            refused = self.node.take_open_write(ctx.sender, msg) if ctx.sender else None
            if refused is not None:
                self.log.info("name.announcement_over_quota", remote=ctx.sender, error=refused)
                return
        elif name in self._waiting or not self._per_name.take(name):
            self._wait_turn(name, msg.record, ctx.sender)
            return
        await self._take_announced(name, msg.record, ctx.sender)

    @handler(local=True)
    async def announced_due(self, msg: AnnouncedDue) -> None:
        """Take what waits for ``msg.name`` as far as its rate allows; come back for the rest."""
        waiting = self._waiting.get(msg.name)
        while waiting and self._per_name.take(msg.name):
            _, raw, sender = waiting.popleft()
            await self._take_announced(msg.name, raw, sender)
        if waiting:
            self._come_back(msg.name)
        else:
            self._waiting.pop(msg.name, None)

    async def _take_announced(self, name: str, raw: bytes, sender: str | None) -> None:
        try:
            await self._accept(name, raw, announce=False)
        except PeerkitError as exc:  # a forged or stale announcement changes nothing
            self.log.warning("name.announcement_rejected", remote=sender, error=str(exc))

    def _wait_turn(self, name: str, raw: bytes, sender: str | None) -> None:
        try:
            record = verify_record(name, raw, now=self.clock())
        except PeerkitError as exc:
            self.log.warning("name.announcement_rejected", remote=sender, error=str(exc))
            return
        waiting = self._waiting.get(name)
        head = self.logs[name].head()
        last = waiting[-1][0] if waiting else (head.sequence if head is not None else -1)
        if record.sequence <= last and not record.revoked:  # a revocation always counts
            return  # older than what is held or waiting: a late copy, or a replay
        if waiting is None:
            waiting = self._waiting[name] = deque()
            self._come_back(name)
        if len(waiting) >= ANNOUNCED_WAITING:  # its owner publishes faster than we take
            waiting.popleft()
        waiting.append((record.sequence, raw, sender))

    def _come_back(self, name: str) -> None:
        wait = self._per_name.retry_after(name)
        self.start_task(self._due_after(name, wait), name="announced-due")

    async def _due_after(self, name: str, wait: float) -> None:
        await self.node.clock.sleep(wait)
        if self.ref is not None:
            await self.ref.tell(AnnouncedDue(name=name))  # taken in the mailbox, in turn

    @handler
    async def resolve(self, msg: ResolveName) -> Resolved:
        """What this peer holds (``local_only`` is the asker's business: asking other peers
        is the client's, outside this mailbox)."""
        log = self.logs.get(msg.name)
        if msg.at is not None:
            rec = log.at(msg.at) if log else None
        else:
            rec = log.head() if log else None
        return Resolved(record=rec.raw if rec else None)

    @handler(local=True)
    async def learn(self, msg: LearnRecord) -> RecordAccepted:
        return await self._accept(msg.name, msg.record, announce=False)

    @handler
    async def history(self, msg: NameHistory) -> History:
        log = self.logs.get(msg.name)
        return History(records=[r.raw for r in log.history()] if log else [])
