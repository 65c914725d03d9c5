"""Floods against a stock peer process: slow readers, connection and stream floods, gossip
floods, open-write floods, junk tags, stalled frames, silent peers.

Every test checks afterwards that a *new* client connects and gets answers, that the victim's
memory stayed within its budget and that what it logged is bounded; ``report`` prints the
figures (``pytest -s tests/abuse``). ``make soak`` runs the same attacks larger.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerkit.blocks import raw_block
from peerkit.config import LimitsConfig
from peerkit.errors import DialFailed, PeerBusy, PeerDisconnected, RequestTimeout
from peerkit.naming.messages import PublishRecord
from peerkit.naming.records import create_record, name_for
from peerkit.storage.messages import WantBlocks
from peerkit.storage.store import SQLiteBlockStore
from peerkit.wire import EVENT, PUBLISH, REQUEST, encode_envelope, encode_frame
from tests.abuse.attack import (
    client,
    flood_topic,
    metric,
    raw_envelope,
    raw_tcp,
    report,
    scale,
    served,
    session_stream,
    tcp_port,
    trio_reset,
    trio_write,
    victim,
    wait_until,
)
from tests.integration.procs import PeerProcess

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

MIB = 1024 * 1024


async def limited(v: PeerProcess, reason: str) -> float:
    return await metric(v, f'peerkit_limited_total{{reason="{reason}"}}')


async def test_a_slow_reader_cannot_make_the_peer_hold_its_replies(tmp_path):
    # the victim holds 2 MiB of blocks; each 70-byte WantBlocks asks for all of them
    store = SQLiteBlockStore(tmp_path / "victim" / "blocks.db")
    blocks = [raw_block(os.urandom(256 * 1024)) for _ in range(8)]
    store.put_many(blocks, time.time())
    store.close()
    want = WantBlocks(cids=[b.cid.cid_bytes for b in blocks])
    asks = scale(300, 2000)
    async with victim(tmp_path) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        rss_before = v.rss_mib()
        stream = await session_stream(attacker, v.peer_id)
        frames = b"".join(encode_frame(encode_envelope(REQUEST, i + 1, want)) for i in range(asks))
        await trio_write(attacker, stream, frames)  # ...and never read a reply

        async def pushed_back() -> bool:
            return await limited(v, "queued_per_peer") > 0 or await limited(v, "slow_reader") > 0

        await wait_until(pushed_back, what="the victim to push back on the slow reader")
        during = await served(v.addr, v.peer_id)
        rss_peak = v.rss_mib()
        queued = await metric(v, "peerkit_queued_reply_bytes")
        await trio_reset(attacker, stream)
        after = await served(v.addr, v.peer_id)
        report(
            "slow reader",
            requests=asks,
            would_queue_mib=asks * 2,
            rss_before_mib=round(rss_before),
            rss_during_mib=round(rss_peak),
            queued_mib=round(queued / MIB, 1),
            bystander_ms_during=round(during, 1),
            bystander_ms_after=round(after, 1),
            busy_unread=await limited(v, "queued_per_peer"),
            busy_in_flight=await limited(v, "requests_per_peer"),
            reset=await limited(v, "slow_reader"),
        )
        # budget: 8 MiB owed per peer (2x plus a frame before a reset), plus decoding slack
        assert rss_peak - rss_before < 100, (rss_before, rss_peak)
        assert queued <= 2 * 8 * MIB + 4 * MIB


async def test_one_host_cannot_fill_the_connection_table(tmp_path):
    count = scale(300, 1500)
    # loopback stands in for the internet here: no address is exempt from the per-IP limit
    async with victim(tmp_path, extra="limits: {per_ip_exempt: []}") as v:
        rss_before = v.rss_mib()
        before = await served(v.addr, v.peer_id)
        # raw TCP connections from one host (127.0.0.2) that never start a handshake
        socks = await raw_tcp("127.0.0.1", tcp_port(v.addr), count, source="127.0.0.2")
        try:

            async def refused() -> bool:
                return await limited(v, "per_ip") >= 1

            await wait_until(refused, what="the victim to refuse the host's extra connections")
            during = await served(v.addr, v.peer_id)  # a new peer from another address
            inbound = await metric(v, "peerkit_inbound_connections")
        finally:
            for s in socks:
                s.close()
        report(
            "connection flood from one host",
            connections=count,
            rss_before_mib=round(rss_before),
            rss_after_mib=round(v.rss_mib()),
            bystander_ms_before=round(before, 1),
            bystander_ms_during=round(during, 1),
            refused_per_ip=await limited(v, "per_ip"),
        )
        assert inbound <= 8 + 2  # the host's share, and the two bystanders (one leaving)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_full_inbound_table_keeps_existing_peers_and_app_nodes(tmp_path):
    port = free_port()
    app = await PeerProcess(tmp_path, "app-node", port=port).start()
    small = (
        "limits: {max_inbound_connections: 6, max_connections_per_ip: 2, handshake_timeout: 30,"
        " per_ip_exempt: []}"
    )
    try:
        async with victim(tmp_path, extra=small, bootstrap=[app.addr]) as v:
            async with client("existing") as existing:
                await existing.connect(v.addr)
                # strangers on many addresses take every inbound slot
                socks = []
                for i in range(2, 12):
                    socks += await raw_tcp("127.0.0.1", tcp_port(v.addr), 2, source=f"127.0.1.{i}")

                async def full() -> bool:
                    return await limited(v, "inbound_full") >= 1

                await wait_until(full, what="the inbound table to fill")
                # an existing peer keeps its connection and its answers
                from peerkit.storage.messages import PinLs

                await existing.request(v.peer_id, PinLs(), timeout=5)
                # the app node restarts: the victim dials it again through the reserve
                app.kill()
                await app.wait_killed()
                app2 = await PeerProcess(tmp_path, "app-node", port=port).start()
                try:
                    async with client("observer") as observer:
                        await observer.connect(app2.addr)

                        async def reconnected() -> bool:
                            return await metric(v, "peerkit_connections") >= 2

                        await wait_until(reconnected, timeout=20, what="the victim to redial")
                finally:
                    app2.kill()
                    await app2.wait_killed()
                for s in socks:
                    s.close()

                async def drained() -> bool:
                    return await metric(v, "peerkit_inbound_connections") <= 1

                await wait_until(drained, what="the strangers' slots to be freed")
                after = await served(v.addr, v.peer_id)
                report(
                    "inbound table full",
                    inbound_cap=6,
                    refused_inbound_full=await limited(v, "inbound_full"),
                    bystander_ms_after=round(after, 1),
                )
    finally:
        app.kill()


async def test_thousands_of_streams_on_one_connection(tmp_path):
    count = scale(500, 5000)
    async with victim(tmp_path) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        rss_before = v.rss_mib()
        streams, refused_at_open = [], 0
        for _ in range(count):
            try:
                streams.append(await session_stream(attacker, v.peer_id))
            except Exception:
                refused_at_open += 1  # reset by the victim during negotiation

        async def refused() -> bool:
            return await limited(v, "streams") >= 1

        await wait_until(refused, what="the victim to refuse streams past the limit")
        during = await served(v.addr, v.peer_id)
        open_streams = await metric(v, "peerkit_streams")
        report(
            "stream flood",
            streams_tried=count,
            streams_opened=len(streams),
            refused_at_open=refused_at_open,
            victim_streams=open_streams,
            rss_before_mib=round(rss_before),
            rss_after_mib=round(v.rss_mib()),
            bystander_ms_during=round(during, 1),
        )
        assert open_streams <= 32 + 2


async def test_a_gossip_flood_is_rate_limited_and_not_forwarded(tmp_path):
    count = scale(3000, 30000)
    # a limit low enough that one attacker process on this machine can exceed it
    extra = "limits: {gossip_per_peer_per_second: 20}"
    async with victim(tmp_path, extra=extra) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        await attacker.subscribe("peerkit.names")
        await attacker.wait_for_subscribers("peerkit.names")
        rss_before = v.rss_mib()
        junk = raw_envelope(PUBLISH, "x.flood", b"\xc0")
        start = time.perf_counter()
        await flood_topic(attacker, "peerkit.names", junk, count)

        async def dropped() -> bool:
            return await limited(v, "gossip_dropped_rate") >= 1

        await wait_until(dropped, timeout=30, what="the victim to drop over-rate gossip")
        during = await served(v.addr, v.peer_id)
        delivered = await metric(v, 'peerkit_events_dropped_total{type="(unknown)"}')
        report(
            "gossip flood",
            refused_by_score=await limited(v, "gossip_dropped_score"),
            messages=count,
            seconds=round(time.perf_counter() - start, 1),
            limit_per_second=20,
            dropped_rate=await limited(v, "gossip_dropped_rate"),
            delivered=delivered,
            rss_before_mib=round(rss_before),
            rss_after_mib=round(v.rss_mib()),
            bystander_ms_during=round(during, 1),
        )


async def test_open_writes_have_a_quota(tmp_path):
    count = scale(400, 3000)
    async with victim(tmp_path) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        db = tmp_path / "victim" / "blocks.db"
        size_before = db.stat().st_size + _wal(db)
        accepted = busy = 0
        now = datetime.now(UTC)
        began = time.monotonic()
        for _ in range(count):
            key = Ed25519PrivateKey.generate()  # name keys are free to make
            record = create_record(key, b"/ipfs/bafkqaaa", 0, now=now, lifetime=timedelta(days=1))
            try:
                await attacker.request(
                    v.peer_id, PublishRecord(name=name_for(key), record=record), timeout=5
                )
                accepted += 1
            except PeerBusy:
                busy += 1
        during = await served(v.addr, v.peer_id)
        size_after = db.stat().st_size + _wal(db)
        report(
            "open-write flood",
            records=count,
            accepted=accepted,
            refused_busy=busy,
            disk_growth_kib=round((size_after - size_before) / 1024),
            bystander_ms_during=round(during, 1),
        )
        # the per-peer burst (120), plus what refilled meanwhile (2 a second)
        allowed = 120 + 2 * (time.monotonic() - began) + 2
        assert accepted <= allowed, (accepted, allowed)
        assert busy >= count - allowed


def _wal(db) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_junk_tags_do_not_grow_metrics_memory_or_logs(tmp_path):
    count = scale(300, 3000)
    async with victim(tmp_path) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        rss_before = v.rss_mib()
        channel = await attacker.transport.channel(v.peer_id)
        for i in range(count):
            tag = f"x{i}." + "A" * 100_000  # 100 kB tags, each new
            channel.send(raw_envelope(EVENT, tag, b"\x80"))
            await channel.drain()

        async def counted() -> bool:
            return await metric(v, 'peerkit_events_dropped_total{type="(unknown)"}') >= count

        await wait_until(counted, timeout=30, what="every junk event to be counted")
        from tests.abuse.attack import gateway_json

        _, text = await gateway_json(v, "/metrics")
        rss_after = v.rss_mib()
        during = await served(v.addr, v.peer_id)
    log_bytes = len(v.stderr)
    report(
        "junk tags",
        events=count,
        tag_bytes=100_000,
        metrics_bytes=len(text),
        rss_before_mib=round(rss_before),
        rss_after_mib=round(rss_after),
        log_bytes=log_bytes,
        bystander_ms_during=round(during, 1),
    )
    assert "AAAA" not in text and len(text) < 20_000
    assert log_bytes < 200_000  # throttled (20 at once, then 10/s) and clipped to 120 chars
    assert rss_after - rss_before < 60


async def test_stalled_frames_and_idle_streams_are_closed(tmp_path):
    count = scale(100, 500)
    # stream limit raised: this test is about stalls, not about how many streams one peer opens
    extra = "limits: {frame_timeout: 1, idle_stream_timeout: 2, max_streams_per_peer: 1000}"
    async with victim(tmp_path, extra=extra) as v, client("attacker", attacker=True) as attacker:
        await attacker.connect(v.addr)
        stalled = []
        for _ in range(count // 4):
            s = await session_stream(attacker, v.peer_id)
            await trio_write(attacker, s, b"\x80\x80\x01" + b"x" * 10)  # 16 KiB frame, 10 sent
            stalled.append(s)
        start = time.perf_counter()

        async def cut() -> bool:
            return await metric(v, "peerkit_wire_errors_total") >= len(stalled)

        await wait_until(cut, timeout=15, what="stalled frames to be cut off")
        cut_after = time.perf_counter() - start
        idle = [await session_stream(attacker, v.peer_id) for _ in range(5)]
        for s in idle:
            await trio_write(attacker, s, encode_frame(encode_envelope(EVENT, 0, _ping())))

        async def closed() -> bool:
            return await limited(v, "idle_stream") >= len(idle)

        await wait_until(closed, timeout=15, what="idle streams to be closed")
        report(
            "stalled frames and idle streams",
            stalled=len(stalled),
            cut_after_s=round(cut_after, 1),
            idle_closed=await limited(v, "idle_stream"),
            victim_streams_after=await metric(v, "peerkit_streams"),
        )
        await served(v.addr, v.peer_id)


def _ping():
    from peerkit.router import Ack

    return Ack()


async def test_a_silent_peer_is_marked_dead_quickly(tmp_path):
    # a stopped process keeps its TCP connection open but answers nothing: a partition
    peer = await PeerProcess(tmp_path, "frozen").start()
    try:
        fast = LimitsConfig(keepalive_interval=1.0, keepalive_timeout=1.0)
        async with client("watcher", limits=fast) as watcher:
            await watcher.connect(peer.addr)
            assert peer.peer_id in watcher.peers()
            peer.proc.send_signal(signal.SIGSTOP)
            start = time.perf_counter()
            from peerkit.testing import wait_for

            await wait_for(
                lambda: peer.peer_id not in watcher.peers(),
                timeout=10,  # the bound is functional (it must happen); the figure is reported
                what="the frozen peer to be marked dead",
            )
            detected = time.perf_counter() - start
            t = time.perf_counter()
            from peerkit.storage.messages import PinLs

            with pytest.raises((PeerDisconnected, RequestTimeout, DialFailed)):
                await watcher.request(peer.peer_id, PinLs(), timeout=5)
            failed_in = time.perf_counter() - t
            report(
                "silent peer",
                keepalive="1s/1s",
                detected_after_s=round(detected, 1),
                next_request_failed_in_s=round(failed_in, 2),
            )
    finally:
        if peer.proc is not None:
            peer.proc.send_signal(signal.SIGCONT)
        peer.kill()
        await peer.wait_killed()
