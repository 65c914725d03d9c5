"""Rendezvous between peers, preference for the app's nodes, and the HTTP gateway."""

import asyncio

import aiohttp
import pytest

from peerkit import Node, PeerConfig
from peerkit.config import GatewayConfig, RendezvousConfig
from tests.conftest import TRANSPORTS


async def until(pred, what, timeout=20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_users_discover_and_connect_to_the_app_nodes(kind):
    from peerkit._transport.memory import MemoryNetwork, MemoryTransport

    net = MemoryNetwork()
    started = []

    async def start(name, **cfg):
        config = PeerConfig(name=name, transport=kind, **cfg)
        transport = MemoryTransport(name=name, network=net) if kind == "memory" else None
        node = Node(config, transport=transport)
        await node.start()
        started.append(node)
        return node

    try:
        rv = await start("rv", rendezvous=RendezvousConfig(server=True))
        boot = [rv.addrs()[0]]
        nodes = [
            await start(
                f"app{i}",
                bootstrap=boot,
                rendezvous=RendezvousConfig(namespaces=["demo/nodes"], ttl=5),
            )
            for i in range(2)
        ]
        user = await start(
            "user", bootstrap=boot, rendezvous=RendezvousConfig(prefer=["demo/nodes"], ttl=5)
        )
        await until(
            lambda: all(n.peer_id in user.peers() for n in nodes),
            "the user to connect to both app nodes",
        )
        # an app node goes away; the user keeps the other and regains it when it returns
        await nodes[0].stop()
        await until(lambda: nodes[0].peer_id not in user.peers(), "the user to notice")
        assert nodes[1].peer_id in user.peers()
    finally:
        for n in reversed(started):
            await n.stop()


@pytest.mark.libp2p
async def test_gateway_health_metrics_peers_actors():
    a = Node(PeerConfig(name="gw", gateway=GatewayConfig(enabled=True)))
    b = Node(PeerConfig(name="other"))
    await a.start()
    await b.start()
    try:
        await b.connect(a.addrs()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(a.gateway_url + "/health/live") as r:
                assert r.status == 200
            async with http.get(a.gateway_url + "/health/ready") as r:
                assert r.status == 200 and (await r.json())["status"] == "ready"
            async with http.get(a.gateway_url + "/peers") as r:
                assert b.peer_id in (await r.json())["peers"]
            async with http.get(a.gateway_url + "/actors") as r:
                names = {x["name"] for x in (await r.json())["actors"]}
                assert {"storage", "naming", "fetcher"} <= names
            await b.storage.put({"x": 1})
            async with http.get(a.gateway_url + "/metrics") as r:
                text = await r.text()
        families = parse_prometheus(text)
        assert sum(v for _, v in families["peerkit_connections"]) == 1.0
        assert "peerkit_mailbox_depth" in families
        assert "peerkit_actor_busy_seconds_total" in families
    finally:
        await b.stop()
        await a.stop()


def parse_prometheus(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reader of the Prometheus text format (what a scraper would accept)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out
