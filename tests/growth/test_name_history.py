"""Names updated for years: thousands of records (100,000 in `make soak`), stored on the
append-only log, on SQLite; what a restart and the disk make of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerkit import Node, PeerConfig, PeerkitError
from peerkit.clock import utc
from peerkit.config import NamingConfig, StorageConfig
from peerkit.naming.extension import NamingExtension
from peerkit.naming.messages import PublishRecord
from peerkit.naming.records import create_record, name_for
from peerkit.storage.errors import StorageError
from peerkit.storage.extension import StorageExtension
from tests.abuse.attack import scale

#: beyond the ~4,600 records at which the old one-block history hit the 1 MiB block limit
UPDATES = scale(6_000, 100_000)


def _config(tmp_path) -> PeerConfig:
    return PeerConfig(
        name="names",
        transport="memory",
        log_level="warning",
        storage=StorageConfig(backend="sqlite", path=str(tmp_path / "blocks.db"), gc_grace=0),
        naming=NamingConfig(history=500),
    )


def _record(key, sequence: int, node: Node) -> bytes:
    return create_record(
        key, b"/ipfs/bafkqaaa", sequence, now=utc(node.clock), lifetime=timedelta(hours=1)
    )


async def test_a_name_updated_thousands_of_times_keeps_its_head_and_its_disk(tmp_path):
    key = Ed25519PrivateKey.generate()
    name = name_for(key)
    async with Node(_config(tmp_path)) as node:
        naming = node.extension(NamingExtension).ref
        for sequence in range(UPDATES):
            reply = await naming.ask(PublishRecord(name=name, record=_record(key, sequence, node)))
            assert reply.head
        await node.storage.gc()  # as a user collects, with no deadline (seconds at soak size)
        stored = node.extension(StorageExtension).store.stats().bytes
    # after GC the store holds the history kept (at most twice the cap), whatever the count
    assert stored < 2 * 500 * 400 + 64 * 1024, stored
    async with Node(_config(tmp_path)) as node:
        head = await node.naming.resolve(name, local_only=True)
        assert head is not None and head.sequence == UPDATES - 1  # the last, after a restart
        history = await node.naming.history(name)
        assert len(history) == 500 and history[-1].sequence == UPDATES - 1
        # and it keeps going
        await node.extension(NamingExtension).ref.ask(
            PublishRecord(name=name, record=_record(key, UPDATES, node))
        )
        assert (await node.naming.resolve(name, local_only=True)).sequence == UPDATES


async def test_a_record_that_cannot_be_stored_fails_its_publisher_and_never_becomes_head(
    tmp_path,
):
    key = Ed25519PrivateKey.generate()
    name = name_for(key)
    async with Node(_config(tmp_path)) as node:
        naming = node.extension(NamingExtension).ref
        await naming.ask(PublishRecord(name=name, record=_record(key, 0, node)))
        store = node.extension(StorageExtension).store
        real_put = store.put_many

        def disk_full(*args, **kwargs):
            raise StorageError("disk full")

        store.put_many = disk_full  # type: ignore[method-assign]
        with pytest.raises(PeerkitError, match="disk full"):
            await naming.ask(PublishRecord(name=name, record=_record(key, 1, node)))
        assert (await node.naming.resolve(name, local_only=True)).sequence == 0
        store.put_many = real_put  # type: ignore[method-assign]
        await naming.ask(PublishRecord(name=name, record=_record(key, 1, node)))  # retried: fine
    async with Node(_config(tmp_path)) as node:
        assert (await node.naming.resolve(name, local_only=True)).sequence == 1
