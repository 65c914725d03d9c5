"""How asyncio code should reach py-libp2p (trio-only): the bridge alternatives, side by side.

Every variant runs the same request/reply over two real py-libp2p hosts in one child process
of its own (TCP, Noise, yamux; 32-byte frames, one at a time), with the *application* on
asyncio as peerkit's actors are: the client awaits an asyncio future per request, the server's
reply is computed by an asyncio task reading an asyncio queue. Only the way bytes cross
between the two runtimes differs:

- **pure trio** (the baseline): no asyncio at all; the lower bound.
- **guest mode** (peerkit's choice): trio runs inside the asyncio loop (``start_guest_run``);
  trio -> asyncio is a plain call (same thread), asyncio -> trio is
  ``TrioToken.run_sync_soon`` waking a writer task. Three times: as py-libp2p and trio come;
  with yamux's window update per read switched off (``PY_YAMUX_RELEASE_ON_READ=0``: go-yamux's
  rule, an update per half window: half the frames, so half the trio wake-ups, per round
  trip); with trio's batches run back to back, up to 8 in one turn of the asyncio loop while
  asyncio has nothing ready (``bridge._BatchDriver``), instead of one batch per turn; and, as
  peerkit runs it, with the writer's event set directly from asyncio instead of through the
  token (guest mode allows synchronous trio calls from the host: no wake-up socket write, no
  entry-queue task step).
- **trio thread**: trio runs natively in its own thread; frames cross with
  ``loop.call_soon_threadsafe`` one way and ``run_sync_soon`` the other (each read's frames
  in one crossing).
- **trio-asyncio**: trio hosts the asyncio loop (``trio_asyncio.open_loop``); asyncio
  callbacks run inside trio, so both directions are plain calls.

The figures and what was chosen are in docs/architecture.md ("The bridge").
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import trio
from _common import load
from bench_libp2p import LISTEN, PROTO, raw_host
from libp2p.peer.peerinfo import info_from_p2p_addr

from peerkit._transport.bridge import TrioGuest
from peerkit.wire import FrameDecoder, encode_frame

ROUND_TRIPS = 1000
RUNS = 9
PAYLOAD = b"x" * 32


Timing = tuple[float, float]  # (wall, CPU) microseconds per round trip


def timing(t0: float, c0: float) -> Timing:
    """(wall, CPU) microseconds per round trip since ``t0``/``c0``. CPU time is the steadier
    figure on a shared machine (another tenant's load stretches wall time, not ours)."""
    wall = (time.perf_counter() - t0) / ROUND_TRIPS * 1e6
    return wall, (time.process_time() - c0) / ROUND_TRIPS * 1e6


class Pipe:
    """One side of a stream as peerkit's channel sees it: frames out through a deque and a
    trio writer task, frames in handed to ``deliver`` once per read (a batch)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.out: deque[bytes] = deque()
        self.wake = trio.Event()
        self.idle = False

    async def write_loop(self) -> None:
        while True:
            if not self.out:
                self.idle = True
                await self.wake.wait()
                self.wake = trio.Event()
                continue
            batch = b"".join(self.out)
            self.out.clear()
            await self.stream.write(batch)

    async def read_loop(self, deliver: Callable[[list[bytes]], None]) -> None:
        decoder = FrameDecoder(1 << 20)
        while True:
            data = await self.stream.read(256 * 1024)
            if not data:
                return
            frames = list(decoder.feed(data))
            if frames:
                deliver(frames)

    def queue(self, frame: bytes) -> bool:
        """Queue a frame; True when the writer sleeps and must be woken (by the caller's way)."""
        self.out.append(encode_frame(frame))
        if self.idle:
            self.idle = False
            return True
        return False


async def with_hosts(body: Callable[[Pipe, Pipe, trio.Nursery], Any]) -> Any:
    """Run two hosts, connect, open one stream; call ``body(client_pipe, server_pipe)``."""
    a, b = raw_host(True), raw_host(True)
    send, receive = trio.open_memory_channel[Any](1)

    async def on_stream(stream: Any) -> None:
        await send.send(stream)
        await trio.sleep_forever()

    async with a.run(LISTEN), b.run(LISTEN), trio.open_nursery() as nursery:
        a.set_stream_handler(PROTO, on_stream)
        await b.connect(info_from_p2p_addr(a.get_addrs()[0]))
        client = Pipe(await b.new_stream(a.get_id(), [PROTO]))
        client.out.append(encode_frame(b"open"))  # the server sees the stream on first data
        await client.stream.write(client.out.popleft())
        server = Pipe(await receive.receive())
        first = await server.stream.read(1024)
        assert first, "the stream opened"
        result = await body(client, server, nursery)
        nursery.cancel_scope.cancel()
        return result


# --- pure trio: the baseline ------------------------------------------------------------------


def pure_trio() -> Timing:
    async def body(client: Pipe, server: Pipe, nursery: trio.Nursery) -> Timing:
        async def echo() -> None:
            decoder = FrameDecoder(1 << 20)
            while True:
                data = await server.stream.read(256 * 1024)
                for frame in decoder.feed(data):
                    await server.stream.write(encode_frame(frame))

        nursery.start_soon(echo)
        decoder = FrameDecoder(1 << 20)
        frame = encode_frame(PAYLOAD)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(ROUND_TRIPS):
            await client.stream.write(frame)
            while not list(decoder.feed(await client.stream.read(256 * 1024))):
                pass
        return timing(t0, c0)

    return trio.run(with_hosts, body)


# --- the asyncio application, the same in every bridged variant -------------------------------


class App:
    """The asyncio side: a client awaiting a future per request, and a server task (an actor)
    answering from a queue. ``send_client``/``send_server`` are how a frame goes to trio."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.waiting: deque[asyncio.Future[bytes]] = deque()
        self.send_client: Callable[[bytes], None] = lambda frame: None
        self.send_server: Callable[[bytes], None] = lambda frame: None

    # called (on the asyncio side) with the frames of one read
    def to_server(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.inbox.put_nowait(frame)

    def to_client(self, frames: list[bytes]) -> None:
        for frame in frames:
            self.waiting.popleft().set_result(frame)

    async def serve(self) -> None:
        while True:
            frame = await self.inbox.get()
            self.send_server(frame)

    async def run_client(self) -> Timing:
        server = asyncio.ensure_future(self.serve())
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(ROUND_TRIPS):
                fut = self.loop.create_future()
                self.waiting.append(fut)
                self.send_client(PAYLOAD)
                await fut
            return timing(t0, c0)
        finally:
            server.cancel()


# --- guest mode (peerkit's bridge) ------------------------------------------------------------


def guest_mode_one_batch() -> Timing:
    """Guest mode as trio's documentation has it: one trio batch per asyncio loop turn."""
    TrioGuest.batches_per_turn = 1
    return guest_mode(direct_wake=False)


def guest_mode_token_wake() -> Timing:
    """Guest mode with several trio batches a turn, the writer woken through trio's token."""
    return guest_mode(direct_wake=False)


def guest_mode(direct_wake: bool = True) -> Timing:
    """Guest mode as peerkit runs it (TrioGuest's default: several trio batches a turn; the
    writer's event set directly from asyncio, as synchronous trio calls from the host are
    safe in guest mode)."""

    async def main() -> Timing:
        loop = asyncio.get_running_loop()
        guest = await TrioGuest.acquire()
        app = App(loop)
        pipes: asyncio.Future[tuple[Pipe, Pipe]] = loop.create_future()

        async def body(client: Pipe, server: Pipe, nursery: trio.Nursery) -> None:
            nursery.start_soon(client.write_loop)
            nursery.start_soon(server.write_loop)
            # trio -> asyncio: a plain call (same thread)
            nursery.start_soon(client.read_loop, app.to_client)
            nursery.start_soon(server.read_loop, app.to_server)
            pipes.set_result((client, server))
            await trio.sleep_forever()

        def sender(pipe: Pipe) -> Callable[[bytes], None]:
            def send(frame: bytes) -> None:
                if pipe.queue(frame):  # asyncio -> trio: wake the writer
                    if direct_wake:
                        pipe.wake.set()
                    else:
                        guest.run_sync_soon(pipe.wake.set)

            return send

        running = guest.call(with_hosts, body)
        client, server = await pipes
        app.send_client, app.send_server = sender(client), sender(server)
        try:
            return await app.run_client()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await guest.release()

    return asyncio.run(main())


# --- a dedicated trio thread ------------------------------------------------------------------


def trio_thread() -> Timing:
    async def main() -> Timing:
        loop = asyncio.get_running_loop()
        app = App(loop)
        ready: asyncio.Future[tuple[Pipe, Pipe, trio.lowlevel.TrioToken]] = loop.create_future()
        stop = threading.Event()
        cancel: list[trio.CancelScope] = []

        def deliver(handler: Callable[[list[bytes]], None]) -> Callable[[list[bytes]], None]:
            def crossing(frames: list[bytes]) -> None:  # one crossing per read
                loop.call_soon_threadsafe(handler, frames)

            return crossing

        async def body(client: Pipe, server: Pipe, nursery: trio.Nursery) -> None:
            nursery.start_soon(client.write_loop)
            nursery.start_soon(server.write_loop)
            nursery.start_soon(client.read_loop, deliver(app.to_client))
            nursery.start_soon(server.read_loop, deliver(app.to_server))
            cancel.append(nursery.cancel_scope)
            token = trio.lowlevel.current_trio_token()
            loop.call_soon_threadsafe(ready.set_result, (client, server, token))
            await trio.sleep_forever()

        def run_trio() -> None:
            try:
                trio.run(with_hosts, body)
            except BaseException:
                if not stop.is_set():
                    raise

        thread = threading.Thread(target=run_trio, daemon=True)
        thread.start()
        client, server, token = await ready

        def sender(pipe: Pipe) -> Callable[[bytes], None]:
            def queue_in_trio(frame: bytes) -> None:
                if pipe.queue(frame):
                    pipe.wake.set()

            def send(frame: bytes) -> None:  # asyncio -> trio: the deque is touched in trio only
                token.run_sync_soon(queue_in_trio, frame)

            return send

        app.send_client, app.send_server = sender(client), sender(server)
        try:
            return await app.run_client()
        finally:
            stop.set()
            token.run_sync_soon(cancel[0].cancel)
            await asyncio.to_thread(thread.join, 10)

    return asyncio.run(main())


# --- trio-asyncio: trio hosts the asyncio loop ------------------------------------------------


def trio_asyncio_host() -> Timing | None:
    try:
        import trio_asyncio
    except ImportError:
        return None

    async def body(client: Pipe, server: Pipe, nursery: trio.Nursery) -> Timing:
        async with trio_asyncio.open_loop() as loop:
            app = App(loop)

            def sender(pipe: Pipe) -> Callable[[bytes], None]:
                def send(frame: bytes) -> None:  # asyncio callbacks run inside trio: a call
                    if pipe.queue(frame):
                        pipe.wake.set()

                return send

            app.send_client, app.send_server = sender(client), sender(server)

            def delivered(handler: Callable[[list[bytes]], None]) -> Callable[[list[bytes]], None]:
                def to_asyncio(frames: list[bytes]) -> None:
                    loop.call_soon(handler, frames)  # run by the asyncio loop, inside trio

                return to_asyncio

            nursery.start_soon(client.write_loop)
            nursery.start_soon(server.write_loop)
            nursery.start_soon(client.read_loop, delivered(app.to_client))
            nursery.start_soon(server.read_loop, delivered(app.to_server))
            result: Timing = await trio_asyncio.aio_as_trio(app.run_client)()
            return result

    return trio.run(with_hosts, body)


#: name -> (function, environment); each runs in a child process of its own (importing
#: trio_asyncio changes asyncio's loop policy for the whole process; py-libp2p reads its yamux
#: settings from the environment)
VARIANTS: dict[str, tuple[Callable[[], Timing | None], dict[str, str]]] = {
    "guest mode": (guest_mode_one_batch, {"PY_YAMUX_RELEASE_ON_READ": "1"}),
    "guest mode, fewer frames": (guest_mode_one_batch, {"PY_YAMUX_RELEASE_ON_READ": "0"}),
    "guest mode, fewer frames, batched": (
        guest_mode_token_wake,
        {"PY_YAMUX_RELEASE_ON_READ": "0"},
    ),
    "... and woken directly (peerkit)": (guest_mode, {"PY_YAMUX_RELEASE_ON_READ": "0"}),
    "trio thread, fewer frames": (trio_thread, {"PY_YAMUX_RELEASE_ON_READ": "0"}),
    "trio-asyncio, fewer frames": (trio_asyncio_host, {"PY_YAMUX_RELEASE_ON_READ": "0"}),
}
BASELINES = {
    "pure trio (baseline)": (pure_trio, {"PY_YAMUX_RELEASE_ON_READ": "1"}),
    "pure trio, fewer frames": (pure_trio, {"PY_YAMUX_RELEASE_ON_READ": "0"}),
}
ALL = {**BASELINES, **VARIANTS}


def measure(name: str) -> Timing | None:
    env = dict(os.environ, **ALL[name][1])
    out = subprocess.run(
        [sys.executable, __file__, "--one", name], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-2000:]}")
    last = out.stdout.strip().splitlines()[-1]
    if last == "None":
        return None
    wall, cpu = last.split()
    return float(wall), float(cpu)


def main() -> None:
    print(f"# bench_bridge ({load()}; {ROUND_TRIPS} round trips, median of {RUNS} runs)")
    figures: dict[str, list[Timing]] = {name: [] for name in ALL}
    for _ in range(RUNS):  # interleaved: the machine's noise falls on every variant alike
        for name in ALL:
            figure = measure(name)
            if figure is not None:
                figures[name].append(figure)
    base = figures["pure trio (baseline)"]
    print(f"{'per round trip (ratio: median per round)':<44} {'wall':>14} {'CPU, both peers':>21}")
    for name, runs in figures.items():
        if not runs:
            print(f"{name:<44} (trio-asyncio not installed)")
            continue
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        # each run against the baseline run of its own round: the machine's slow spells
        # (several tens of percent here) fall on both sides of every ratio
        wall_ratio = statistics.median(w / b[0] for (w, _), b in zip(runs, base, strict=True))
        cpu_ratio = statistics.median(c / b[1] for (_, c), b in zip(runs, base, strict=True))
        print(f"{name:<44} {wall:6.0f} us {wall_ratio:5.2f}x   {cpu:6.0f} us {cpu_ratio:5.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        result = ALL[sys.argv[2]][0]()
        print("None" if result is None else f"{result[0]} {result[1]}")
    else:
        main()
