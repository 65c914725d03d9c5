"""peerkit over real py-libp2p vs raw py-libp2p in pure trio, same protocol shape, same run.

- connect + open stream + first reply (goal < 50 ms; raw py-libp2p with default settings ~258 ms)
- request/reply round trip on an open stream (goal <= 1.2x raw)
- 64 KiB messages streamed one way (goal >= 0.9x raw throughput)

Both peers live in one process (raw: one trio run; peerkit: one asyncio loop), so each side pays
for both ends on the same cores; the round trip is measured again with the peers in two
processes, as they run in the world (every message then wakes a process waiting on the network).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multiaddr
import trio
from _common import load, report
from libp2p import create_yamux_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as x25519
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
from libp2p.security.noise.transport import Transport as Noise

from peerkit import Actor, Message, Node, PeerConfig, Request, handler
from peerkit.log import configure_logging
from peerkit.wire import FrameDecoder, encode_frame

# peerkit turns py-libp2p's yamux window update per read off (half the frames; py-libp2p reads
# the setting at every read). Set for the whole run, so that the raw baseline runs the same
# yamux: without this, the first raw run had the extra frames and the later ones did not.
os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")

ROUND_TRIPS = 2000
CHUNK = 64 * 1024
CHUNKS = 800  # 50 MiB
PROTO = TProtocol("/bench/echo/1.0.0")
LISTEN = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]


# --- raw py-libp2p, pure trio ---------------------------------------------------------------


def raw_host(tuned: bool):  # type: ignore[no-untyped-def]
    kp = create_new_key_pair()
    return new_host(
        key_pair=kp,
        sec_opt={NOISE: Noise(kp, noise_privkey=x25519().private_key)},
        muxer_opt=create_yamux_muxer_option(),
        connection_config=ConnectionConfig(max_connections_per_peer=1) if tuned else None,
    )


async def raw_echo_handler(stream) -> None:  # type: ignore[no-untyped-def]
    dec = FrameDecoder(8 * 1024 * 1024)
    while True:
        data = await stream.read(256 * 1024)
        if not data:
            return
        for body in dec.feed(data):
            await stream.write(encode_frame(body))


async def raw_sink_handler(stream, done: trio.Event, total: int) -> None:  # type: ignore[no-untyped-def]
    dec = FrameDecoder(8 * 1024 * 1024)
    got = 0
    while got < total:
        data = await stream.read(256 * 1024)
        if not data:
            break
        got += sum(len(b) for b in dec.feed(data))
    done.set()


async def raw_read_frame(stream, dec: FrameDecoder) -> bytes:  # type: ignore[no-untyped-def]
    while True:
        frames = dec.feed(await stream.read(256 * 1024))
        if frames:
            return frames[0]


async def raw_main(tuned: bool, results: dict[str, float]) -> None:
    a, b = raw_host(tuned), raw_host(tuned)
    async with a.run(LISTEN), b.run(LISTEN):
        a.set_stream_handler(PROTO, raw_echo_handler)
        done = trio.Event()
        sink = TProtocol("/bench/sink/1.0.0")
        a.set_stream_handler(sink, lambda s: raw_sink_handler(s, done, CHUNK * CHUNKS))
        t0 = time.perf_counter()
        await b.connect(info_from_p2p_addr(a.get_addrs()[0]))
        stream = await b.new_stream(a.get_id(), [PROTO])
        dec = FrameDecoder()
        await stream.write(encode_frame(b"hello"))
        await raw_read_frame(stream, dec)
        results["first"] = (time.perf_counter() - t0) * 1000
        if not tuned:
            return
        payload = encode_frame(b"x" * 32)
        t0 = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            await stream.write(payload)
            await raw_read_frame(stream, dec)
        results["rtt"] = (time.perf_counter() - t0) / ROUND_TRIPS * 1e6
        out = await b.new_stream(a.get_id(), [sink])
        frame = encode_frame(b"y" * CHUNK)
        t0 = time.perf_counter()
        for _ in range(CHUNKS):
            await out.write(frame)
        await done.wait()
        results["mbps"] = CHUNK * CHUNKS / (time.perf_counter() - t0) / 1e6
        await stream.close()
        await out.close()


def raw(tuned: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    trio.run(raw_main, tuned, results)
    return results


# --- peerkit --------------------------------------------------------------------------------


class Ping(Request, tag="bench.Ping2"):
    data: bytes


class Pong(Message, tag="bench.Pong2"):
    data: bytes


class Chunk(Message, tag="bench.Chunk"):
    data: bytes


class Server(Actor):
    mailbox_size = 4096
    total = 0
    target = 0
    done: asyncio.Event | None = None

    @handler
    async def ping(self, msg: Ping) -> Pong:
        return Pong(data=msg.data)

    @handler
    async def chunk(self, msg: Chunk) -> None:
        Server.total += len(msg.data)
        if Server.total >= Server.target and Server.done is not None:
            Server.done.set()


@contextlib.asynccontextmanager
async def two_nodes() -> AsyncIterator[tuple[Node, Node]]:
    """Peer ``a`` serving Ping and Chunk, and peer ``b`` (not yet connected), in this loop."""
    a = Node(PeerConfig(name="a", log_level="warning"))
    b = Node(PeerConfig(name="b", log_level="warning"))
    a.spawn(Server)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await b.stop()
        await a.stop()


async def peerkit_main() -> dict[str, float]:
    results: dict[str, float] = {}
    async with two_nodes() as (a, b):
        t0 = time.perf_counter()
        await b.connect(a.addrs()[0])
        await b.request(a.peer_id, Ping(data=b"hello"))
        results["first"] = (time.perf_counter() - t0) * 1000
        msg = Ping(data=b"x" * 32)
        t0 = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            await b.request(a.peer_id, msg)
        results["rtt"] = (time.perf_counter() - t0) / ROUND_TRIPS * 1e6
        Server.total, Server.target, Server.done = 0, CHUNK * CHUNKS, asyncio.Event()
        chunk = Chunk(data=b"y" * CHUNK)
        t0 = time.perf_counter()
        for _ in range(CHUNKS):
            await b.send(a.peer_id, chunk)
        await Server.done.wait()
        results["mbps"] = CHUNK * CHUNKS / (time.perf_counter() - t0) / 1e6
    return results


def raw_round_trips() -> None:
    """ROUND_TRIPS round trips on an open stream, nothing else (bench_instructions counts it)."""

    async def main() -> None:
        a, b = raw_host(tuned=True), raw_host(tuned=True)
        async with a.run(LISTEN), b.run(LISTEN):
            a.set_stream_handler(PROTO, raw_echo_handler)
            await b.connect(info_from_p2p_addr(a.get_addrs()[0]))
            stream = await b.new_stream(a.get_id(), [PROTO])
            dec, payload = FrameDecoder(), encode_frame(b"x" * 32)
            for _ in range(ROUND_TRIPS):
                await stream.write(payload)
                await raw_read_frame(stream, dec)
            await stream.close()

    trio.run(main)


async def peerkit_round_trips() -> None:
    """peerkit's side of raw_round_trips: the same round trips as requests between nodes."""
    async with two_nodes() as (a, b):
        await b.connect(a.addrs()[0])
        msg = Ping(data=b"x" * 32)
        for _ in range(ROUND_TRIPS):
            await b.request(a.peer_id, msg)


# --- peers in two processes (as they run in the world) -----------------------------------------
# Above, both peers share one process, so each side's waits are filled by the other side's
# work. Apart, every message wakes a process that was waiting on the network.


async def raw_serve() -> None:
    host = raw_host(tuned=True)
    async with host.run(LISTEN):
        host.set_stream_handler(PROTO, raw_echo_handler)
        print(json.dumps({"addr": str(host.get_addrs()[0])}), flush=True)
        await trio.to_thread.run_sync(sys.stdin.read)  # until the parent closes our stdin


async def peerkit_serve() -> None:
    node = Node(PeerConfig(name="server", log_level="warning"))
    node.spawn(Server)
    await node.start()
    print(json.dumps({"addr": node.addrs()[0]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await node.stop()


def with_server(side: str, client: Callable[[str], dict[str, float]]) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", side],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        addr = json.loads(server.stdout.readline())["addr"]
        return client(addr)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)


def raw_apart(addr: str) -> dict[str, float]:
    async def main() -> float:
        host = raw_host(tuned=True)
        async with host.run(LISTEN):
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
            await host.connect(info)
            stream = await host.new_stream(info.peer_id, [PROTO])
            dec, payload = FrameDecoder(), encode_frame(b"x" * 32)
            for i in range(WARM_UP + ROUND_TRIPS):
                if i == WARM_UP:
                    t0 = time.perf_counter()
                await stream.write(payload)
                await raw_read_frame(stream, dec)
            elapsed = time.perf_counter() - t0
            await stream.close()
            return elapsed / ROUND_TRIPS * 1e6

    return {"rtt_apart": trio.run(main)}


def peerkit_apart(addr: str) -> dict[str, float]:
    async def main() -> float:
        node = Node(PeerConfig(name="client", log_level="warning"))
        await node.start()
        try:
            server = await node.connect(addr)
            msg = Ping(data=b"x" * 32)
            for i in range(WARM_UP + ROUND_TRIPS):
                if i == WARM_UP:
                    t0 = time.perf_counter()
                await node.request(server, msg)
            return (time.perf_counter() - t0) / ROUND_TRIPS * 1e6
        finally:
            await node.stop()

    return {"rtt_apart": asyncio.run(main())}


WARM_UP = 300
SERVERS: dict[str, Callable[[], None]] = {
    "raw": lambda: trio.run(raw_serve),
    "peerkit": lambda: asyncio.run(peerkit_serve()),
}


#: each measurement runs in a child process of its own: a process on this machine runs its
#: round trips either fast or ~40% slower throughout (both sides alike), so a side measured
#: in one process only would carry that process's luck into the ratio
def raw_with_go_credit() -> dict[str, float]:
    """Raw py-libp2p with peerkit's yamux credit rule (one update per half window, as go-yamux;
    py-libp2p sends one after nearly every other small message): what is left is peerkit's own
    overhead."""
    from peerkit._transport import _yamux_credit

    _yamux_credit.install()
    return raw(tuned=True)


SIDES: dict[str, Callable[[], dict[str, float]]] = {
    "raw": lambda: raw(tuned=True),
    "raw-go-credit": raw_with_go_credit,
    "raw-default": lambda: raw(tuned=False),
    "peerkit": lambda: asyncio.run(peerkit_main()),
    "raw-apart": lambda: with_server("raw", raw_apart),
    "peerkit-apart": lambda: with_server("peerkit", peerkit_apart),
}
ROUNDS = 7


def measure(side: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", side], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    configure_logging("warning")
    print(f"# bench_libp2p ({load()}; median of {ROUNDS} rounds, each side in its own process)")
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    fixed: list[dict[str, float]] = []
    for _ in range(ROUNDS):  # interleaved: the machine's slow spells fall on all sides
        base.append(measure("raw"))
        ours.append(measure("peerkit"))
        fixed.append(measure("raw-go-credit"))
        base[-1].update(measure("raw-apart"))
        ours[-1].update(measure("peerkit-apart"))
    default_first = statistics.median(measure("raw-default")["first"] for _ in range(2))

    def med(rs: list[dict[str, float]], k: str) -> float:
        return statistics.median(r[k] for r in rs)

    def ratio(k: str, against: list[dict[str, float]] = base) -> float:  # round by round
        return statistics.median(o[k] / b[k] for o, b in zip(ours, against, strict=True))

    report(
        "connect+stream+first reply (ms)", med(ours, "first"), med(base, "first"), "ms", "< 50 ms"
    )
    print(f"{'  raw py-libp2p with default settings':<44} {default_first:>20,.1f} ms")
    report("request/reply round trip (us)", med(ours, "rtt"), med(base, "rtt"), "us", "<= 1.2x")
    print(f"{'  ... median of the per-round ratios':<44} {ratio('rtt'):>20.2f}x")
    print(
        f"{'  raw with go-yamux credit (as peerkit)':<44} {med(fixed, 'rtt'):>20,.1f} us"
        f"   peerkit / it, per round: {ratio('rtt', fixed):.2f}x (peerkit's own overhead)"
    )
    report(
        "  ... peers in two processes (us)",
        med(ours, "rtt_apart"),
        med(base, "rtt_apart"),
        "us",
        "info",
    )
    print(f"{'  ... median of the per-round ratios':<44} {ratio('rtt_apart'):>20.2f}x")
    report(
        "64 KiB stream throughput (MB/s)", med(ours, "mbps"), med(base, "mbps"), "MB/s", ">= 0.9x"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        configure_logging("warning")
        print(json.dumps(SIDES[sys.argv[2]]()))
    elif sys.argv[1:2] == ["--serve"]:
        configure_logging("warning")
        SERVERS[sys.argv[2]]()
    else:
        main()
