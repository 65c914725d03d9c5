"""The DHT at the size the issue asks for: 50 libp2p peers on this machine (10 per process),
each dialling 2 random others. 200 random lookups of content, names and peers all succeed;
with 20% of the peers restarted while they run, at least 99% do; content whose holder went
offline is still fetched from the peer that kept it."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.growth.dht_formation import DhtFormation

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

LOOKUPS = 200
DOC = {"@type": "Article", "name": "written on the first device"}


def name_seed(i: int) -> str:
    return (bytes([i + 1]) * 32).hex()


@pytest.mark.timeout(600)
async def test_fifty_peers_find_content_names_and_peers_through_the_dht(tmp_path):
    dht = DhtFormation(tmp_path, n=50, per_process=10, degree=2)
    rng = random.Random(3)
    began = time.monotonic()
    try:
        await dht.start()
        await dht.tables_filled(at_least=4)
        # ten peers hold a document each, ten publish a name each
        holders = rng.sample(range(50), 10)

        async def put(n: int, i: int) -> tuple[str, tuple[int, str]]:
            doc = {"@type": "Article", "name": f"d{n}"}
            stored = await dht.ok(i, "content_put", document=doc)
            assert stored["providers_stored_at"] >= 1
            return stored["cid"], (i, f"d{n}")

        docs = dict(await asyncio.gather(*(put(n, i) for n, i in enumerate(holders))))

        async def publish(n: int, i: int, cid: str) -> tuple[str, str]:
            name = await dht.ok(i, "name_publish", seed=name_seed(n), value=f"/ipfs/{cid}")
            return name, f"/ipfs/{cid}"

        publishers = rng.sample(range(50), 10)
        chosen = [rng.choice(list(docs)) for _ in publishers]
        names = dict(
            await asyncio.gather(
                *(publish(n, i, c) for n, (i, c) in enumerate(zip(publishers, chosen, strict=True)))
            )
        )

        failures: list[str] = []

        async def lookup(asker: int, kind: str) -> bool:
            if kind == "content":
                cid, (_holder, title) = rng.choice(list(docs.items()))
                answer = await dht.call(asker, "content_fetch", cid=cid)
                ok = "ok" in answer and answer["ok"]["document"]["name"] == title
            elif kind == "name":
                name, value = rng.choice(list(names.items()))
                answer = await dht.call(asker, "name_resolve", name=name)
                ok = answer.get("ok") == value
            else:
                target = rng.choice([j for j in range(50) if j != asker and dht.peers[j].up])
                answer = await dht.call(asker, "routing_connect", peer=dht.peers[target].peer_id)
                ok = answer.get("ok") == dht.peers[target].peer_id
            if not ok:
                failures.append(f"{kind} from p{asker}: {answer}")
            return ok

        async def batch(count: int, during: asyncio.Future[None] | None = None) -> list[bool]:
            plan = [
                (rng.randrange(50), rng.choice(["content", "name", "peer"])) for _ in range(count)
            ]

            async def run(asker: int, kind: str) -> bool:
                if not dht.peers[asker].up:
                    asker = next(j for j in range(50) if dht.peers[j].up)
                return await lookup(asker, kind)

            results = await asyncio.gather(*(run(a, k) for a, k in plan))
            if during is not None:
                await during
            return list(results)

        print(f"\nDHT 50 peers: started and seeded in {time.monotonic() - began:.0f} s")
        began = time.monotonic()
        first = await batch(LOOKUPS)
        print(f"DHT {LOOKUPS} lookups in {time.monotonic() - began:.0f} s")
        assert all(first), f"{first.count(False)} of {LOOKUPS} lookups failed: {failures}"

        # 20% of the peers restart while another 200 lookups run
        churned = rng.sample([i for i in range(50) if i not in holders], 10)

        async def churn() -> None:
            for i in churned:
                await dht.restart(i)

        began = time.monotonic()
        second = await batch(LOOKUPS, asyncio.ensure_future(churn()))
        print(f"DHT {LOOKUPS} lookups with 10 restarts in {time.monotonic() - began:.0f} s")
        assert second.count(True) >= 0.99 * LOOKUPS, f"{second.count(False)} failed: {failures}"

        # a holder goes offline; the peer that fetched and kept its document (or any other that
        # fetched it meanwhile) serves it
        cid, (holder, title) = next(iter(docs.items()))
        keeper = next(j for j in range(50) if j != holder and j not in churned)
        kept = await dht.ok(keeper, "content_fetch", cid=cid, pin="kept")
        assert kept["document"]["name"] == title
        await until_provided(dht, keeper, cid)
        await dht.stop_peer(holder)
        asker = next(j for j in range(50) if j not in (holder, keeper) and dht.peers[j].up)
        got = await dht.ok(asker, "content_fetch", cid=cid)
        assert got["document"]["name"] == title
        assert dht.peers[holder].peer_id not in got["from"]

        # a user logs in on a second device anywhere in the formation, the first one offline:
        # the app node it handed its names to keeps the Me DAG and the document
        up = [j for j in range(50) if dht.peers[j].up and j not in (keeper, asker)]
        app, first, second = up[0], up[len(up) // 2], up[-1]
        wallet = {"wallet": "5a" * 32, "passphrase": "correct horse"}
        await dht.ok(first, "login", **wallet)
        blog = await dht.ok(first, "login_publish", label="blog", document=DOC)
        await dht.ok(first, "connect", target=list(dht.peers[app].addrs))
        roots = await dht.ok(first, "keep_with", peer=dht.peers[app].peer_id, labels=["blog"])
        assert len(roots) == 2 and all(roots)  # KeepNow answered: they can be found by CID
        await dht.stop_peer(first)
        me = await dht.ok(second, "login", **wallet)
        assert me["names"] == [blog["name"]]
        got = await dht.ok(second, "content_fetch", cid=blog["cid"])
        assert got["document"]["name"] == DOC["name"]
    finally:
        await dht.close()


async def until_provided(dht: DhtFormation, keeper: int, cid: str) -> None:
    """Until the keeper's own provider record (made when it pinned) can be found."""
    asker = next(j for j in range(dht.n) if j != keeper and dht.peers[j].up)
    for _ in range(300):
        found = await dht.ok(asker, "content_providers", cid=cid, want=20)
        if dht.peers[keeper].peer_id in found:
            return
        await asyncio.sleep(0.1)  # each check is a lookup through an agent
    raise AssertionError("the keeper's provider record never appeared")
