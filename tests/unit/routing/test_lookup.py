"""The iterative lookup against a simulated network (peerkit.routing.lookup is pure)."""

import asyncio
import random

from peerkit.routing.lookup import Answer, lookup
from peerkit.routing.table import Contact, RoutingTable, key_for


def network(n: int, seed: int = 1) -> dict[str, RoutingTable]:
    """n peers, each knowing 8 random others and its 8 closest (what refreshes converge to)."""
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(n)]
    tables = {p: RoutingTable(p) for p in names}
    for p, table in tables.items():
        for q in rng.sample(names, 8):
            table.seen(q, [], 0)
        for c in sorted(
            names,
            key=lambda q: (
                int.from_bytes(key_for("peer", q), "big")
                ^ int.from_bytes(key_for("peer", p), "big")
            ),
        )[1:9]:
            table.seen(c, [], 0)
    return tables


async def test_every_peer_is_found_from_anywhere_within_a_few_hops():
    tables = network(300)
    rng = random.Random(2)
    asked = []

    for _ in range(50):
        start, target = rng.sample(sorted(tables), 2)

        async def query(contact: Contact, target: str = target) -> Answer:
            closer = tables[contact.peer].closest(key_for("peer", target), 20)
            return Answer(closer, [c for c in closer if c.peer == target])

        seeds = tables[start].closest(key_for("peer", target), 20)
        result = await lookup(key_for("peer", target), seeds, query, me=start, want=1)
        assert result.found and result.found[0].peer == target
        assert result.hops <= 4
        asked.append(result.queried)
    assert max(asked) <= 40


async def test_peers_that_fail_or_hang_do_not_stop_a_lookup_and_time_is_bounded():
    tables = network(100)
    target = "p42"
    down = set(sorted(tables)[::3])  # a third of the network is gone
    down.discard(target)

    async def query(contact: Contact) -> Answer:
        if contact.peer in down:
            if contact.peer.endswith("0"):
                await asyncio.sleep(3600)  # hangs
            raise ConnectionError("gone")
        closer = tables[contact.peer].closest(key_for("peer", target), 20)
        return Answer(closer, [c for c in closer if c.peer == target])

    seeds = tables["p1"].closest(key_for("peer", target), 20)
    result = await lookup(key_for("peer", target), seeds, query, me="p1", want=1, deadline=2)
    assert result.found

    # a network where everyone hangs: the deadline ends it
    async def hang(contact: Contact) -> Answer:
        await asyncio.sleep(3600)
        raise AssertionError

    loop = asyncio.get_running_loop()
    began = loop.time()
    result = await lookup(key_for("peer", target), seeds, hang, me="p1", deadline=0.2)
    assert result.timed_out and not result.found
    assert loop.time() - began < 1


async def test_a_lookup_asks_at_most_max_queries_peers():
    tables = network(200)

    async def query(contact: Contact) -> Answer:
        return Answer(tables[contact.peer].closest(key_for("cid", b"nowhere"), 20))

    seeds = tables["p0"].closest(key_for("cid", b"nowhere"), 20)
    result = await lookup(key_for("cid", b"nowhere"), seeds, query, me="p0", max_queries=10)
    assert result.queried == 10
    full = await lookup(key_for("cid", b"nowhere"), seeds, query, me="p0")
    assert len(full.closest) == 20  # ran until the 20 closest answered
