"""The demo: three peers as separate processes on 127.0.0.1, talking over real libp2p.

Run it with ``make demo`` (or ``python -m sample_app.demo``). It starts alice, bob and carol with
``peerkit run``, drives them from a fourth, in-process peer (the director), prints a transcript
of the typed requests, replies, errors and pubsub events that flow between them, stops them with
SIGTERM and exits 0 when everything happened as it should.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from peerkit import Node, PeerConfig, PeerkitError, ValidationFailed
from peerkit.log import configure_logging

from .messages import Announce, Greet, Inbox, Relay

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("alice", "bob", "carol")


def say(line: str = "") -> None:
    print(line, flush=True)


async def start_peer(
    folder: Path, name: str, bootstrap: list[str]
) -> tuple[asyncio.subprocess.Process, dict]:
    (folder / name).mkdir()
    config = folder / name / "peer.yaml"
    config.write_text(
        f"name: {name}\n"
        'listen: ["/ip4/127.0.0.1/tcp/0"]\n'
        "log_level: warning\n"
        'services: ["sample_app.services:Greeter"]\n'
        f"bootstrap: {json.dumps(bootstrap)}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        "run",
        "-c",
        str(config),
        "--ready-json",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if not line:
        raise SystemExit(f"demo: {name} failed to start (see its errors above)")
    return proc, json.loads(line)


async def timed(coro):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = await coro
    return result, (time.perf_counter() - t0) * 1000


async def demo(folder: Path) -> int:
    t_start = time.perf_counter()
    say("peerkit demo: three peers as separate processes on 127.0.0.1")
    say("              (py-libp2p: TCP + Noise + yamux, gossipsub; typed msgspec messages)")
    say()
    procs: dict[str, asyncio.subprocess.Process] = {}
    info: dict[str, dict] = {}
    director = Node(PeerConfig(name="director", log_level="warning"))
    try:
        say("start")
        for name in PEERS:
            bootstrap = [info["alice"]["addrs"][0]] if name != "alice" else []
            procs[name], info[name] = await start_peer(folder, name, bootstrap)
            via = " (bootstraps to alice)" if bootstrap else ""
            say(f"  {name:<6} pid {procs[name].pid:<7} {info[name]['addrs'][0]}{via}")
        ids = {name: info[name]["peer_id"] for name in PEERS}
        await director.start()
        for name in PEERS:
            await director.connect(info[name]["addrs"][0])
        say(f"  director (this process) connected to {len(PEERS)} peers")
        say()

        say("request/reply")
        for name in PEERS:
            reply, ms = await timed(director.request(ids[name], Greet(name="director")))
            say(
                f"  director -> {name:<6} Greet(name='director')  <- {reply.text!r} by {reply.by}"
                f"  ({ms:.1f} ms)"
            )
        reply, ms = await timed(director.request(ids["alice"], Relay(to=ids["bob"], name="carol")))
        say(
            f"  director -> alice  Relay(to=bob)  alice -> bob Greet(name='carol')  <- "
            f"{reply.text!r} by {reply.by}  ({ms:.1f} ms)"
        )
        say()

        say("pubsub (gossipsub topic 'sample.chat')")
        texts = ["hello everyone", "peerkit routes typed events", "bye"]
        await director.request(ids["alice"], Announce(texts=texts, subscribers=2), timeout=30)
        say(f"  alice published {len(texts)} ChatPosted events")
        for name in ("bob", "carol"):
            got: list[str] = []
            deadline = time.monotonic() + 20
            while len(got) < len(texts) and time.monotonic() < deadline:
                inbox = await director.request(ids[name], Inbox())
                got = [m.text for m in inbox.messages if m.author == "alice"]
                if len(got) < len(texts):
                    await asyncio.sleep(0.05)
            mark = "ok" if got == texts else "MISSING"
            say(f"  {name:<6} received {len(got)}/{len(texts)}: {got}  [{mark}]")
            if got != texts:
                return 1
        say()

        say("errors cross the wire as typed errors")
        try:
            await director.request(ids["bob"], Greet(name=""))
            say("  unexpected: an empty name was accepted")
            return 1
        except ValidationFailed as exc:
            say(f"  director -> bob    Greet(name='')  <- ValidationFailed: {exc}")
        say()
    finally:
        await director.stop()
        say("shutdown (SIGTERM)")
        codes = {}
        for name, proc in procs.items():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            codes[name] = await asyncio.wait_for(proc.wait(), 20)
        say("  " + ", ".join(f"{n} exited {c}" for n, c in codes.items()))
    say()
    ok = all(c == 0 for c in codes.values())
    say(f"demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - t_start:.1f} s")
    return 0 if ok else 1


def main() -> int:
    configure_logging("warning")
    with tempfile.TemporaryDirectory(prefix="peerkit-demo-") as tmp:
        try:
            return asyncio.run(demo(Path(tmp)))
        except PeerkitError as exc:
            print(f"demo: error: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
