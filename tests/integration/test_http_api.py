"""The app's services over HTTP+JSON on the gateway: the same validation and typed errors as
over libp2p, events as Server-Sent Events, an OpenAPI 3.1 document a validator accepts, and
nothing for strangers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from openapi_spec_validator import validate

from peerkit import Node, PeerkitError
from peerkit.config import GatewayConfig, PeerConfig

from sample_app.generated.greeter import ChatPosted, Greet
from sample_app.services.greeter import Greeter

pytestmark = pytest.mark.libp2p


async def peer(name: str, host: str = "127.0.0.1", tmp_path=None) -> Node:
    config = PeerConfig(
        name=name,
        transport="libp2p",
        gateway=GatewayConfig(enabled=True, host=host),
        source=str(tmp_path / f"{name}.yaml") if tmp_path else None,
    )
    node = Node(config)
    node.spawn(Greeter)
    await node.start()
    return node


@pytest.fixture
async def pair():
    server, client = await peer("server"), await peer("client")
    await client.connect(server.addrs()[0])
    yield server, client
    await client.stop()
    await server.stop()


async def test_a_request_and_its_errors_are_the_same_over_http_and_libp2p(pair):
    server, client = pair
    api = f"{server.gateway_url}/api/greeter"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/greet", json={"name": "web"}) as resp:
            assert resp.status == 200
            assert await resp.json() == {
                "type": "sample.Greeting",
                "text": "hello web",
                "by": "server",
            }
        with pytest.raises(PeerkitError) as over_libp2p:
            # msgspec checks constraints when decoding: the peer's router refuses it
            await client.request(server.peer_id, Greet(name=""))
        async with http.post(f"{api}/greet", json={"name": ""}) as resp:
            assert resp.status == 400
            error = await resp.json()
        assert error["error"] == over_libp2p.value.code == "invalid"
        assert error["message"] == str(over_libp2p.value)
        assert "$.name" in error["message"]
        async with http.post(f"{api}/greet", data=b"{not json") as resp:
            assert resp.status == 400 and "not JSON" in (await resp.json())["message"]
        async with http.post(f"{api}/nope", json={}) as resp:
            assert resp.status == 404 and "greeter/greet" in (await resp.json())["hint"]
        async with http.post(f"{api}/inbox", json={}) as resp:  # a request without fields
            assert (await resp.json())["type"] == "sample.InboxContents"


async def test_events_stream_as_server_sent_events(pair):
    server, client = pair
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.gateway_url}/api/greeter/events") as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert await resp.content.readline() == b": connected\n"
            await resp.content.readline()
            await client.wait_for_subscribers(ChatPosted, 1)
            await client.publish(ChatPosted(author="client", text="over the wire"))
            lines = [await asyncio.wait_for(resp.content.readline(), 10) for _ in range(2)]
    assert lines[0] == b"event: sample.ChatPosted\n"
    assert lines[1].startswith(b"data: ") and b'"text":"over the wire"' in lines[1]


async def test_the_openapi_document_is_valid_and_describes_the_services(pair):
    server, _ = pair
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.gateway_url}/api/openapi.json") as resp:
            document = await resp.json()
    validate(document)  # openapi-spec-validator: OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    post = document["paths"]["/api/greeter/greet"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/greeter.Greet"}
    greet = document["components"]["schemas"]["greeter.Greet"]
    assert greet["properties"]["name"] == {"type": "string", "minLength": 1, "maxLength": 64}
    assert "/api/greeter/events" in document["paths"]


async def test_strangers_reach_no_handler(tmp_path):
    server = await peer("exposed", host="0.0.0.0", tmp_path=tmp_path)
    try:
        url = server.gateway_url.replace("0.0.0.0", "127.0.0.1")
        token = (tmp_path / "gateway.token").read_text().strip()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/greeter/greet", json={"name": "x"}) as resp:
                assert resp.status == 401 and "token" in (await resp.json())["hint"]
            owner = {"Authorization": f"Bearer {token}"}
            async with http.post(
                f"{url}/api/greeter/greet", json={"name": "x"}, headers=owner
            ) as r:
                assert r.status == 200
    finally:
        await server.stop()
