"""The demo: the sample formation (sample_app/formation.yaml) on 127.0.0.1, over real libp2p.

Run it with ``make demo`` (or ``python -m sample_app.demo``). It starts the formation with
``peerkit up``'s runner (a rendezvous point and two app nodes, each its own process, and three
users sharing one), waits until the users have found the app nodes through rendezvous, then
drives the peers from a director peer in this process and prints what flows between them:
typed requests and replies, a relayed request, pubsub events, a named post that Alice seals
for Bob, updates and then closes to him while Bob reads it from his own peer (scenario 1 of
the whitepaper, one call each way), a document Alice and Bob edit together
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

        say("content: Alice publishes a post sealed for Bob; Bob resolves and reads it")
        session = await director.naming.login(
            EthereumWallet(b"\xa1" * 32), "alice's passphrase", "sample", kdf=FAST_TEST_KDF
        )
        # Bob on his laptop: a peer of his own (started here), logged in with his wallet
        laptop = Node(PeerConfig(name="bob-laptop", log_level="warning"))
        await laptop.start()
        await laptop.connect(apps[0].addrs[0])
        await laptop.connect(director.addrs()[0])
        bob_session = await laptop.naming.login(
            EthereumWallet(b"\xb0" * 32), "bob's passphrase", "sample", kdf=FAST_TEST_KDF
        )
        name = session.name_of("post")
        for version in (1, 2):
            post = {"@type": "BlogPosting", "headline": f"Hello, version {version}"}
            published, ms = await timed(
                session.publish_document(
                    "post", post, readers=[bob_session.reader], push_to=[apps[0].peer_id]
                )
            )
            say(
                f"  Alice: document -> quads -> sealed DAG {published.cid.encode()[:14]}..."
                f" -> {name[:14]}... seq {published.record.sequence}  ({ms:.1f} ms)"
            )

            async def bob_reads(version=version):  # type: ignore[no-untyped-def]
                doc = await bob_session.read_document(name)
                return doc if doc["headline"].endswith(str(version)) else None

            doc, ms = await timed(until(bob_reads, "Bob to read the new version"))
            say(f"  Bob: {name[:14]}... -> DAG -> opened -> {doc['headline']!r}  ({ms:.1f} ms)")
        await session.set_readers("post", [], push_to=[apps[0].peer_id])

        async def bob_is_out() -> bool:
            try:
                await bob_session.read_document(name)
            except PeerkitError as exc:
                return exc.code == "not_a_reader"
            return False

        await until(bob_is_out, "Bob to be refused the resealed post")
        say("  Alice removes Bob; the next version is sealed under a new key: Bob is refused")
        await laptop.stop()
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
