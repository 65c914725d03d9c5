"""The naming actor: verified name logs, announcements over pubsub, resolution from peers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..actor import Actor, Context, handler
from ..auth.guard import Requires, name_owner
from ..blocks import make_block
from ..errors import PeerkitError
from ..feed import Feed
from .log import NameLog
from .messages import (
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

__all__ = ["NameHeads", "NamingActor"]

#: new head records per name, for local watchers (``node.naming.watch``)
NameHeads = Feed[str, NameRecord]

LOG_TYPE = "peerkit/name-log"
PIN_PREFIX = "naming/"


def utc_now() -> datetime:
    return datetime.now(UTC)


class NamingActor(Actor):
    mailbox_size = 4096

    def __init__(self, heads: NameHeads, clock: Callable[[], datetime] = utc_now) -> None:
        self.heads = heads  # owned by the extension: watchers survive restarts
        self.clock = clock
        self.logs: dict[str, NameLog] = {}

    async def on_start(self) -> None:
        # Logs are persisted as pinned blocks: reload them so sequences never go backwards.
        storage = self.node.storage
        for pin in await storage.pins():
            if pin.name.startswith(PIN_PREFIX):
                doc = await storage.get(pin.root)
                if isinstance(doc, dict) and doc.get("type") == LOG_TYPE:
                    log = self._log(doc["name"])
                    for raw in doc["records"]:
                        try:  # history is kept once expired, but still verified
                            log.add(
                                verify_record(log.name, raw, now=self.clock(), check_expiry=False)
                            )
                        except RecordError as exc:
                            self.log.warning("name.stored_record_rejected", error=str(exc))

    def _log(self, name: str) -> NameLog:
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = NameLog(name)
        return log

    async def _accept(self, name: str, raw: bytes, *, announce: bool) -> RecordAccepted:
        record = verify_record(name, raw, now=self.clock())
        log = self._log(name)
        is_new = log.add(record)
        is_head = is_new and log.head() is record
        if is_new:
            await self._persist(log)
        if is_head:
            self.heads.put(name, record)
            self.log.info(
                "name.updated", name=name[:16], sequence=record.sequence, revoked=record.revoked
            )
            if announce:
                await self.node.publish(NameRecordPublished(name=name, record=raw))
        return RecordAccepted(sequence=record.sequence, head=is_head)

    async def _persist(self, log: NameLog) -> None:
        block = make_block(
            {"type": LOG_TYPE, "name": log.name, "records": [r.raw for r in log.history()]}
        )
        await self.node.storage.put_blocks([block], pin=PIN_PREFIX + log.name)

    @handler(open_write=True)  # anyone may publish a record signed by a name's key
    async def publish(self, msg: PublishRecord) -> RecordAccepted:
        return await self._accept(msg.name, msg.record, announce=True)

    @handler(requires=Requires("name/republish", on="name:{name}", owner=name_owner))
    async def republish(self, msg: Republish, ctx: Context) -> RecordAccepted:
        self.log.info("name.republished_for_owner", name=msg.name[:16], by=(ctx.sender or "")[-8:])
        return await self._accept(msg.name, msg.record, announce=True)

    @handler(open_write=True)
    async def announced(self, msg: NameRecordPublished, ctx: Context) -> None:
        try:
            await self._accept(msg.name, msg.record, announce=False)
        except PeerkitError as exc:  # a forged or stale announcement changes nothing
            self.log.warning("name.announcement_rejected", remote=ctx.sender, error=str(exc))

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
