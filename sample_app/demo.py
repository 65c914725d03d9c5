"""The demo: the sample formation (sample_app/formation.yaml) on 127.0.0.1, over real libp2p.

Run it with ``make demo`` (or ``python -m sample_app.demo``). It starts the formation with
``peerkit up``'s runner (a rendezvous point and two app nodes, each its own process, and three
users sharing one), waits until the users have found the app nodes through rendezvous, then
drives the peers from a director peer in this process and prints what flows between them:
typed requests and replies, a relayed request, pubsub events, a named document that Alice
updates and Bob resolves (scenario 1 of the whitepaper), a document Alice and Bob edit together
(scenario 2), the app's own service on Alice's own app nodes (scenario 3, throughout), and a
typed error. It stops the formation and exits 0 when everything happened as it should.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from peerkit import Node, PeerConfig, PeerkitError, ValidationFailed
from peerkit.dcs.messages import EditDoc, GetCard, ShowDoc
from peerkit.formation.runner import FormationRunner
from peerkit.formation.spec import load_formation
from peerkit.log import configure_logging
from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet
from peerkit.naming.messages import ResolveName
from peerkit.naming.records import name_for, verify_record

from .generated.greeter import Announce, Greet, Inbox, Relay

FORMATION = Path(__file__).resolve().parent / "formation.yaml"


def say(line: str = "") -> None:
    print(line, flush=True)


async def timed(coro):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = await coro
    return result, (time.perf_counter() - t0) * 1000


async def until(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise PeerkitError(f"demo: timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return result


async def demo() -> int:
    t_start = time.perf_counter()
    say("peerkit demo: the sample formation on 127.0.0.1 (6 peers, 4 OS processes)")
    say("              (py-libp2p: TCP + Noise + yamux, gossipsub; typed msgspec messages)")
    say()
    quiet = open(os.devnull, "w")  # noqa: SIM115 - the runner's own table is not shown here
    scratch = tempfile.TemporaryDirectory(prefix="peerkit-demo-")  # a fresh formation each run
    runner = FormationRunner(
        load_formation(FORMATION), show_logs=False, out=quiet, workdir=Path(scratch.name)
    )
    running = asyncio.ensure_future(runner.up(handle_signals=False))
    director = Node(PeerConfig(name="director", log_level="warning"))
    try:
        ready = asyncio.ensure_future(runner.ready.wait())
        done, _ = await asyncio.wait(
            {ready, running}, timeout=90, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if not done:
            raise PeerkitError("demo: timed out waiting for the formation to start")
        if running.done():
            return running.result() or 1
        say("start (peerkit up sample_app/formation.yaml)")
        for p in runner.peers:
            say(
                f"  {p.name:<13} {p.plan.role:<11} pid {p.proc.pid if p.proc else '-':<7}"
                f" {p.addrs[0]}"
            )
        apps = [runner.peer("app-node-0"), runner.peer("app-node-1")]
        users = [runner.peer(f"user-{i}") for i in range(3)]
        async with aiohttp.ClientSession() as http:

            async def users_found_apps() -> bool:
                for u in users:
                    async with http.get(u.gateway + "/peers") as r:
                        seen = set((await r.json())["peers"])
                    if not {a.peer_id for a in apps} <= seen:
                        return False
                return True

            await until(users_found_apps, "the users to find the app nodes through rendezvous")
        say("  every user found both app nodes through rendezvous and connected to them")
        await director.start()
        for p in [*apps, *users]:
            await director.connect(p.addrs[0])
        say(f"  dashboard: {runner.dashboard_url}")
        say()

        say("request/reply")
        for p in (*apps, users[0]):
            reply, ms = await timed(director.request(p.peer_id, Greet(name="director")))
            say(f"  director -> {p.name:<10} Greet  <- {reply.text!r} by {reply.by}  ({ms:.1f} ms)")
        reply, ms = await timed(
            director.request(users[0].peer_id, Relay(to=apps[1].peer_id, name="carol"))
        )
        say(
            f"  director -> user-0  Relay(to=app-node-1): user-0 -> app-node-1 Greet  <- "
            f"{reply.text!r} by {reply.by}  ({ms:.1f} ms)"
        )
        say()

        say("pubsub (gossipsub topic 'sample.chat')")
        texts = ["hello everyone", "peerkit routes typed events", "bye"]
        # user-0 hears subscriptions from its direct peers (the app nodes); gossip relays on
        await director.request(users[0].peer_id, Announce(texts=texts, subscribers=2), timeout=30)
        say(f"  user-0 published {len(texts)} ChatPosted events")
        for p in (*apps, *users[1:]):

            async def got(p=p):  # type: ignore[no-untyped-def]
                inbox = await director.request(p.peer_id, Inbox())
                return [m.text for m in inbox.messages if m.author == "user-0"] == texts or None

            await until(got, f"{p.name} to receive the chat")
            say(f"  {p.name:<10} received {len(texts)}/{len(texts)}  [ok]")
        say()

        say("names: Alice updates a named document, Bob (user-1) resolves it")
        session = await director.naming.login(
            EthereumWallet(b"\xa1" * 32), "alice's passphrase", "sample", kdf=FAST_TEST_KDF
        )
        key = session.key_for("post")
        name = name_for(key)
        bob = users[1].peer_id
        for version in (1, 2):
            cid = await director.storage.put_document(
                {"@type": "BlogPosting", "headline": f"Hello, version {version}"}
            )
            await director.naming.publish(key, cid.encode(), push_to=[apps[0].peer_id])

            async def bob_sees(version=version):  # type: ignore[no-untyped-def]
                r = await director.request(bob, ResolveName(name=name))
                if r.record is None:
                    return None
                rec = verify_record(name, r.record, now=director.naming.now())
                return rec if rec.sequence == version - 1 else None

            rec, ms = await timed(until(bob_sees, "Bob to resolve the update"))
            say(
                f"  Alice publishes {name[:14]}... seq {rec.sequence} -> "
                f"{rec.value.decode()[:26]}...; Bob resolves it  ({ms:.1f} ms)"
            )
        say()

        say("collaboration: Alice (the director) and Bob (user-1) edit one shared document")
        bob_id = users[1].peer_id
        doc_id = await director.dcs.create()
        card = await director.request(bob_id, GetCard())
        await director.dcs.invite(doc_id, {"id": card.id, "box": card.box})
        await director.dcs.insert(doc_id, 0, "Hello")

        async def bob_reads_hello():  # type: ignore[no-untyped-def]
            try:
                doc = await director.request(bob_id, ShowDoc(doc=doc_id))
            except PeerkitError:
                return None  # the invitation has not arrived yet
            return doc if doc.text == "Hello" else None

        _, ms = await timed(until(bob_reads_hello, "Bob to see Alice's edit"))
        say(f"  Alice invites Bob and writes 'Hello'; Bob's copy reads 'Hello'  ({ms:.1f} ms)")
        await director.request(bob_id, EditDoc(doc=doc_id, index=5, text=", world"))
        text, ms = await timed(
            director.dcs.wait_for(doc_id, lambda t: t == "Hello, world", timeout=30)
        )
        status = director.dcs.status(doc_id)
        say(f"  Bob appends ', world'; Alice's copy reads {text!r}  ({ms:.1f} ms)")
        say(
            f"  {len(status['members'])} members, epoch {status['epoch']}: each update is"
            " encrypted, signed and sent on its author's own change stream"
        )
        say()

        say("errors cross the wire as typed errors")
        try:
            await director.request(users[2].peer_id, Greet(name=""))
            say("  unexpected: an empty name was accepted")
            return 1
        except ValidationFailed as exc:
            say(f"  director -> user-2  Greet(name='')  <- ValidationFailed: {exc}")
        say()
    finally:
        await director.stop()
        runner.stop()
        code = await running
        say("shutdown (peerkit down)")
        say("  " + ", ".join(f"{p.name} {p.state}" for p in runner.peers))
        quiet.close()
        scratch.cleanup()
    say()
    ok = code == 0 and all(p.proc is not None and p.proc.returncode == 0 for p in runner.peers)
    say(f"demo {'finished' if ok else 'FAILED'} in {time.perf_counter() - t_start:.1f} s")
    return 0 if ok else 1


def main() -> int:
    configure_logging("warning")
    try:
        return asyncio.run(demo())
    except PeerkitError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
