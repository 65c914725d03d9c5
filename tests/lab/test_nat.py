"""Peers behind home NAT routers, in the network lab (peerkit.testing.netlab): each peer is its
own process inside its own network namespace; the "internet" is 198.18.0.0/15, homes are
10.77.<n>.0/24 behind nftables NAT (one port-restricted, one symmetric)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from peerkit.testing.netlab import NetLab, unavailable
from tests.integration.procs import REPO

pytestmark = [
    pytest.mark.libp2p,
    pytest.mark.processes,
    pytest.mark.lab,
    pytest.mark.skipif(unavailable() is not None, reason=unavailable() or ""),
]

PORT = 4001


def config(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "listen": [f"/ip4/0.0.0.0/tcp/{extra.pop('port', 0)}"],
        "log_level": "warning",
        "storage": {"enabled": False},
        **extra,
    }


async def until(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Ask ``check()`` (a round trip to an agent) until it gives something true."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)  # each check is a round trip to another process


def public_addr(addrs: list[str]) -> str:
    return next(a for a in addrs if "/198.18." in a)


async def test_users_behind_nat_routers_reach_app_nodes_and_recover_from_a_cut():
    with NetLab() as lab:
        rdv_host, app_host = lab.public("rdv"), lab.public("app")
        homes = [lab.home("alice", nat="port-restricted"), lab.home("bob", nat="symmetric")]
        rdv = await lab.start_agent(rdv_host, cwd=REPO)
        app = await lab.start_agent(app_host, cwd=REPO)
        users = [await lab.start_agent(h.host, cwd=REPO) for h in homes]
        try:
            started = await rdv.ok(
                "start", config=config("rdv", port=PORT, rendezvous={"server": True})
            )
            rdv_addr = public_addr(started["addrs"])  # type: ignore[index]
            assert not any("/0.0.0.0/" in a for a in started["addrs"])  # type: ignore[index]
            app_info = await app.ok(
                "start",
                config=config(
                    "app",
                    port=PORT,
                    bootstrap=[rdv_addr],
                    services=["sample_app.services.greeter:Greeter"],
                    rendezvous={"namespaces": ["lab/nodes"], "ttl": 10},
                ),
            )
            app_id = app_info["peer_id"]  # type: ignore[index]
            began = time.monotonic()
            user_info = []
            for i, user in enumerate(users):
                user_info.append(
                    await user.ok(
                        "start",
                        config=config(
                            f"user{i}",
                            bootstrap=[rdv_addr],
                            rendezvous={"prefer": ["lab/nodes"], "ttl": 10},
                        ),
                        **{"import": ["sample_app.generated.greeter"]},
                    )
                )
            # each user knows only the rendezvous point: it finds the app node there and
            # dials out through its NAT router
            for i, user in enumerate(users):
                await until(lambda u=user: _has(u, app_id), f"user{i} to reach the app node")
                reply = await user.ok(
                    "request", peer=app_id, type="sample.Greet", body={"name": f"user{i}"}
                )
                assert reply["text"].endswith(f"user{i}!") or f"user{i}" in reply["text"]  # type: ignore[index]
            first_reply = time.monotonic() - began
            rtts = []
            for _ in range(20):
                answer = await users[0].call(
                    "request", peer=app_id, type="sample.Greet", body={"name": "again"}
                )
                rtts.append(answer["ms"])
            rtts.sort()
            print(
                f"\nLAB first replies from the app node to both users in {first_reply:.2f} s;"
                f" request round trip p50 {rtts[10]:.1f} ms (direct, through NAT)"
            )

            # nobody on the internet can dial into a home: the users' own addresses are
            # private (10.77...) and the routers let in only replies (what relays are for)
            outsider = await lab.start_agent(lab.public("outsider"), cwd=REPO)
            users.append(outsider)  # stopped with the others
            await outsider.ok("start", config=config("outsider"))
            for info in user_info:
                addrs = info["addrs"]  # type: ignore[index]
                assert all("/10.77." in a or "/127.0.0.1/" in a for a in addrs)
                answer = await outsider.call("connect", target=addrs, timeout=3)
                assert "error" in answer

            # Alice's home loses its uplink; her peer notices, and comes back when healed
            lab.cut(homes[0])
            failed = await users[0].call(
                "request", peer=app_id, type="sample.Greet", body={"name": "x"}, timeout=3
            )
            assert "error" in failed
            lab.heal(homes[0])
            await until(lambda: _greets(users[0], app_id), "alice to reach the app node again", 60)
        finally:
            for agent in [*users, app, rdv]:
                await agent.stop()


async def _has(agent, peer: str) -> bool:  # type: ignore[no-untyped-def]
    return peer in (await agent.ok("peers"))  # type: ignore[operator]


async def _greets(agent, peer: str) -> bool:  # type: ignore[no-untyped-def]
    answer = await agent.call(
        "request", peer=peer, type="sample.Greet", body={"name": "again"}, timeout=3
    )
    return "ok" in answer


@pytest.mark.parametrize(
    "bob_nat", ["port-restricted", "symmetric"], ids=["both-port-restricted", "one-symmetric"]
)
async def test_users_behind_two_nats_call_each_other_through_a_relay_then_directly(bob_nat):
    """Neither user can be dialled; both reserve a slot at the rendezvous point (a relay by
    default in formations, here by config), announce the relayed address, find each other
    through rendezvous and call each other's service through the relay. Then hole punching
    (DCUtR) makes the connection direct where both NATs keep ports (port-restricted); with a
    symmetric NAT on one side it fails, and the relay goes on carrying the calls."""
    with NetLab() as lab:
        rdv = await lab.start_agent(lab.public("rdv"), cwd=REPO)
        homes = [lab.home("alice", nat="port-restricted"), lab.home("bob", nat=bob_nat)]
        users = [await lab.start_agent(h.host, cwd=REPO) for h in homes]
        try:
            started = await rdv.ok(
                "start",
                config=config("rdv", port=PORT, rendezvous={"server": True}, relay={"serve": True}),
            )
            rdv_addr = public_addr(started["addrs"])  # type: ignore[index]
            ids = []
            users_started = time.monotonic()
            for i, user in enumerate(users):
                info = await user.ok(
                    "start",
                    config=config(
                        f"user{i}",
                        bootstrap=[rdv_addr],
                        services=["sample_app.services.greeter:Greeter"],
                        rendezvous={"namespaces": ["lab/users"], "ttl": 10},
                    ),
                    **{"import": ["sample_app.generated.greeter"]},
                )
                ids.append(info["peer_id"])  # type: ignore[index]
            # each user, having no public address, reserved a slot at the relay
            for user in users:
                await until(
                    lambda u=user: _relayed_addrs(u), "a user to announce a relayed address"
                )
            rdv_id = started["peer_id"]  # type: ignore[index]

            bob_addrs = await until(
                lambda: relayed_registration(users[0], rdv_id, "lab/users", ids[1]),
                "bob's relayed registration",
            )
            began = time.monotonic()
            assert await users[0].ok("connect", target=bob_addrs, timeout=5) == ids[1]
            kinds = await users[0].ok("peers")
            assert kinds[ids[1]] == "relayed"  # type: ignore[index]
            rtts = []
            for _ in range(20):
                answer = await users[0].call(
                    "request", peer=ids[1], type="sample.Greet", body={"name": "alice"}
                )
                assert "ok" in answer, answer
                rtts.append(answer["ms"])
            first = time.monotonic() - began
            from_start = time.monotonic() - users_started
            # and the other way, over the same relayed connection
            back = await users[1].ok(
                "request", peer=ids[0], type="sample.Greet", body={"name": "bob"}
            )
            assert "bob" in back["text"]  # type: ignore[index]
            rtts.sort()
            print(
                f"\nLAB relayed: users start -> 20 replies from each other {from_start:.2f} s "
                f"(connect + replies {first:.2f} s), request round trip "
                f"p50 {rtts[len(rtts) // 2]:.1f} ms (through the relay)"
            )
            began = time.monotonic()
            outcome = await until(
                lambda: _hole_punch_outcome(users[0]), "a hole-punch attempt to end", 60
            )
            if bob_nat == "port-restricted":
                assert outcome == "direct"
                await until(lambda: _kind(users[0], ids[1], "direct"), "the direct connection", 10)
                print(f"LAB hole punch: direct after {time.monotonic() - began:.1f} s")
            else:
                assert outcome == "failed"
                assert (await users[0].ok("peers"))[ids[1]] == "relayed"  # type: ignore[index]
            # calls go on either way (over the direct connection, or still through the relay)
            direct_rtts = []
            for _ in range(20):
                answer = await users[1].call(
                    "request", peer=ids[0], type="sample.Greet", body={"name": "bob"}
                )
                assert "ok" in answer, answer
                direct_rtts.append(answer["ms"])
            direct_rtts.sort()
            print(f"LAB after hole punching: round trip p50 {direct_rtts[10]:.1f} ms")
        finally:
            for agent in [*users, rdv]:
                await agent.stop()


async def _hole_punch_outcome(agent) -> str | None:  # type: ignore[no-untyped-def]
    stats = await agent.ok("stats")
    if stats.get("holepunch_direct"):
        return "direct"
    return "failed" if stats.get("holepunch_failed") else None


async def _kind(agent, peer: str, kind: str) -> bool:  # type: ignore[no-untyped-def]
    return (await agent.ok("peers")).get(peer) == kind  # type: ignore[no-any-return]


async def _relayed_addrs(agent) -> list[str]:  # type: ignore[no-untyped-def]
    return [a for a in await agent.ok("addrs") if "/p2p-circuit" in a]  # type: ignore[union-attr]


#: how long a home stays cut off (the issue's 30 s; PEERKIT_CUT_SECONDS for a longer soak)
CUT_SECONDS = float(os.environ.get("PEERKIT_CUT_SECONDS", 30))


async def test_users_in_two_homes_co_edit_resolve_names_and_survive_a_cut():
    """The whitepaper's users at home: a rendezvous point and an app node (keeper, relay) on
    the internet; Alice and Bob behind NATs, each knowing only the rendezvous point. They
    co-edit a document and resolve each other's names; Alice's home is cut off while Bob
    keeps writing, then healed: both end with every edit."""
    with NetLab() as lab:
        rdv = await lab.start_agent(lab.public("rdv"), cwd=REPO)
        app = await lab.start_agent(lab.public("app"), cwd=REPO)
        homes = [lab.home("alice", nat="port-restricted"), lab.home("bob", nat="symmetric")]
        alice, bob = [await lab.start_agent(h.host, cwd=REPO) for h in homes]
        try:
            keeper = {"keep_for_others": True}
            store = {"backend": "memory"}  # names and kept streams need a block store
            started = await rdv.ok(
                "start",
                config=config(
                    "rdv",
                    port=PORT,
                    rendezvous={"server": True},
                    relay={"serve": True},
                    dcs=keeper,
                    storage=store,
                ),
            )
            rdv_addr = public_addr(started["addrs"])  # type: ignore[index]
            await app.ok(
                "start",
                config=config(
                    "app",
                    port=PORT,
                    bootstrap=[rdv_addr],
                    dcs=keeper,
                    storage=store,
                    relay={"serve": True},
                    rendezvous={"namespaces": ["lab/nodes"], "ttl": 10},
                ),
            )
            app_id = (await app.ok("addrs"))[0].rsplit("/p2p/", 1)[1]  # type: ignore[index]
            for name, user, seed in (("alice", alice, "0a"), ("bob", bob, "0b")):
                await user.ok(
                    "start",
                    config=config(
                        name,
                        bootstrap=[rdv_addr],
                        rendezvous={"prefer": ["lab/nodes"], "ttl": 10},
                        storage=store,
                    ),
                )
                await user.ok("dcs_identity", seed=seed * 32)
                await until(lambda u=user: _has(u, app_id), f"{name} to reach the app node")

            doc = await alice.ok("dcs_create")
            await alice.ok("dcs_edit", doc=doc, patches=[[0, 0, "alice: hello. "]])
            await alice.ok("dcs_invite", doc=doc, card=await bob.ok("dcs_card"), wait=1)
            await bob.ok("dcs_wait", doc=doc, parts=["alice: hello."])
            text = await bob.ok("dcs_text", doc=doc)
            await bob.ok("dcs_edit", doc=doc, patches=[[len(text), 0, "bob: hi. "]])  # type: ignore[arg-type]
            await alice.ok("dcs_wait", doc=doc, parts=["bob: hi."])

            name = await bob.ok("name_publish", seed="0c" * 32, value="/ipfs/bob-home-page")
            assert (
                await until(
                    lambda: alice.ok("name_resolve", name=name), "alice to resolve bob's name"
                )
                == "/ipfs/bob-home-page"
            )

            lab.cut(homes[0])  # Alice's home loses its uplink; Bob keeps writing
            for i in range(3):
                text = await bob.ok("dcs_text", doc=doc)
                await bob.ok("dcs_edit", doc=doc, patches=[[len(text), 0, f"bob-{i}. "]])  # type: ignore[arg-type]
            await asyncio.sleep(CUT_SECONDS)  # the outage itself (nothing to wait for)
            lab.heal(homes[0])
            want = ["alice: hello.", "bob: hi.", "bob-0.", "bob-1.", "bob-2."]
            healed = await alice.ok("dcs_wait", doc=doc, parts=want, timeout=90, wait=120)
            assert healed == await bob.ok("dcs_text", doc=doc)
        finally:
            for agent in [alice, bob, app, rdv]:
                await agent.stop()


async def test_a_rendezvous_point_tells_a_firewalled_peer_it_cannot_be_dialled():
    """AutoNAT's question, answered by a fresh dial from the rendezvous point: a public host
    behind a closed firewall learns nobody can dial it, reserves at the relay and is reached
    through it; an open public host learns it is reachable and reserves nothing."""
    with NetLab() as lab:
        rdv = await lab.start_agent(lab.public("rdv"), cwd=REPO)
        closed = await lab.start_agent(lab.public("closed", firewall=True), cwd=REPO)
        open_ = await lab.start_agent(lab.public("open"), cwd=REPO)
        user = await lab.start_agent(lab.home("carol", nat="symmetric").host, cwd=REPO)
        try:
            started = await rdv.ok(
                "start",
                config=config("rdv", port=PORT, rendezvous={"server": True}, relay={"serve": True}),
            )
            rdv_addr = public_addr(started["addrs"])  # type: ignore[index]
            ids = {}
            for name, agent in (("closed", closed), ("open", open_)):
                info = await agent.ok(
                    "start",
                    config=config(
                        name,
                        port=PORT,
                        bootstrap=[rdv_addr],
                        services=["sample_app.services.greeter:Greeter"],
                        rendezvous={"namespaces": ["lab/nodes"], "ttl": 10},
                    ),
                )
                ids[name] = info["peer_id"]  # type: ignore[index]
            await until(lambda: _relayed_addrs(closed), "the firewalled host to use the relay")
            assert await _relayed_addrs(open_) == []  # reachable: no relay needed
            await user.ok("start", config=config("carol", bootstrap=[rdv_addr]))

            rdv_id = started["peer_id"]  # type: ignore[index]
            addrs = await until(
                lambda: relayed_registration(user, rdv_id, "lab/nodes", ids["closed"]),
                "the relayed registration",
            )
            assert await user.ok("connect", target=addrs, timeout=5) == ids["closed"]
            assert (await user.ok("peers"))[ids["closed"]] == "relayed"  # type: ignore[index]
        finally:
            for agent in [user, open_, closed, rdv]:
                await agent.stop()


async def relayed_registration(agent, rdv: str, namespace: str, peer: str) -> list[str]:  # type: ignore[no-untyped-def]
    """``peer``'s registered addresses at the rendezvous point, once one of them is relayed."""
    found = await agent.ok(
        "request", peer=rdv, type="rendezvous.Discover", body={"namespace": namespace}
    )
    for rec in found["registrations"]:
        if rec["peer"] == peer and any("/p2p-circuit" in a for a in rec["addrs"]):
            return rec["addrs"]
    return []
