"""/metrics by the conventions: the exposition content type, request latency histograms and
error counters by type, connections by direction and kind, process and build metrics; and the
label values stay bounded whatever tags other peers send."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from peerkit import Node, PeerkitError
from peerkit.config import GatewayConfig, PeerConfig, StorageConfig
from peerkit.wire import REQUEST, Envelope

from sample_app.generated.greeter import Greet
from sample_app.services.greeter import Greeter

pytestmark = pytest.mark.libp2p


def families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


async def scrape(node: Node) -> tuple[str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(node.gateway_url + "/metrics") as resp:
            return resp.headers["Content-Type"], await resp.text()


async def test_requests_errors_connections_and_the_process(tmp_path):
    server = Node(
        PeerConfig(
            name="server",
            transport="libp2p",
            gateway=GatewayConfig(enabled=True),
            storage=StorageConfig(backend="sqlite", path=str(tmp_path / "blocks.db")),
        )
    )
    server.spawn(Greeter)
    client = Node(PeerConfig(name="client", transport="libp2p"))
    await server.start()
    await client.start()
    try:
        await client.connect(server.addrs()[0])
        for i in range(5):
            await client.request(server.peer_id, Greet(name=f"n{i}"))
        with pytest.raises(PeerkitError):
            await client.request(server.peer_id, Greet(name=""))
        content_type, text = await scrape(server)
    finally:
        await client.stop()
        await server.stop()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    found = families(text)
    buckets = [
        s
        for s in found["peerkit_request_duration_seconds"]
        if s.name.endswith("_count") and s.labels == {"type": "sample.Greet", "handler": "greet"}
    ]
    assert buckets and buckets[0].value == 5
    errors = {
        (s.labels["type"], s.labels["code"]): s.value for s in found["peerkit_request_errors"]
    }
    assert errors[("sample.Greet", "invalid")] == 1
    conns = {
        (s.labels["direction"], s.labels["kind"]): s.value for s in found["peerkit_connections"]
    }
    assert conns[("inbound", "direct")] == 1 and sum(conns.values()) == 1
    assert "process_resident_memory_bytes" in found
    assert found["peerkit_build_info"][0].labels["version"]
    assert found["peerkit_store_file_bytes"][0].value > 0


class _Sink:
    """A channel that swallows replies (the router answers every request on it)."""

    peer = "12D3KooWSinkSinkSinkSinkSinkSinkSinkSinkSinkSink"
    closed = False
    outbound = False

    def send(self, body: bytes) -> None:
        pass


async def test_ten_thousand_unknown_tags_make_one_series(make_nodes):
    (node,) = await make_nodes(1, "memory", gateway=GatewayConfig(enabled=True))
    channel = _Sink()
    payload = msgspec.Raw(msgspec.msgpack.encode({}))
    for i in range(10_000):
        node.router.on_envelope(channel, Envelope(REQUEST, i + 1, f"stranger.Tag{i}", payload))
    _, text = await scrape(node)
    found = families(text)
    types = {s.labels["type"] for s in found["peerkit_messages_in"]}
    assert "(unknown)" in types and len(types) < 20
    error_types = {s.labels["type"] for s in found["peerkit_request_errors"]}
    assert error_types == {"(unknown)"}
    assert len(text.splitlines()) < 400
