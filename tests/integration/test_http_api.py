"""The app's services over HTTP+JSON on the gateway: the same validation and typed errors as
over libp2p, events as Server-Sent Events, an OpenAPI 3.1 document a validator accepts, and
nothing for strangers."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openapi_spec_validator import validate

from peerkit import Context, Message, Node, PeerkitError, Request, handler
from peerkit.auth.guard import Requires
from peerkit.auth.principals import WalletSigner
from peerkit.auth.tokens import Capability
from peerkit.config import AuthConfig, GatewayConfig, PeerConfig
from peerkit.gateway.api import AUTH_HEADER
from peerkit.naming.records import name_for
from peerkit.service import Service
from peerkit.wallets import EthereumWallet

from sample_app.generated.greeter import ChatPosted, Greet
from sample_app.services.greeter import Greeter

pytestmark = pytest.mark.libp2p


class Entered(Message, tag="test.http.Entered"):
    by: str | None
    text: str


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


async def next_record(stream: aiohttp.StreamReader) -> dict[str, Any]:
    """The next ``event: record`` of a name's watch stream (comments and keepalives skipped)."""
    while True:
        line = await asyncio.wait_for(stream.readline(), 10)
        assert line, "the stream ended"
        if line == b"event: record\n":
            data = await stream.readline()
            assert data.startswith(b"data: ")
            return msgspec.json.decode(data[len(b"data: ") :])


async def test_a_name_watch_sends_the_head_held_now_then_each_new_one(pair):
    server, client = pair
    key = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    name = name_for(key)
    await server.naming.publish(key, (await server.storage.put({"v": 0})).encode())
    async with aiohttp.ClientSession() as http:
        # the page read version 0 before it opened the stream: the stream starts with it, so
        # a version published between that read and the stream is never missed
        async with http.get(f"{server.gateway_url}/api/names/{name}/watch") as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            first = await next_record(resp.content)
            assert (first["name"], first["sequence"]) == (name, 0)
            # a new version published on another peer arrives over gossip
            await client.wait_for_subscribers("peerkit.names", 1)
            await client.naming.publish(key, (await client.storage.put({"v": 1})).encode())
            second = await next_record(resp.content)
            assert second["sequence"] == 1
            assert second["value"] == f"/ipfs/{(await client.storage.put({'v': 1})).encode()}"
        # opened again (as a browser reopens a dropped stream): the head now, not an old one
        async with http.get(f"{server.gateway_url}/api/names/{name}/watch") as resp:
            assert (await next_record(resp.content))["sequence"] == 1


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


class Entry(Request, tag="test.http.Entry", reply=Entered):
    text: str


class Note(Request, tag="test.http.Note", reply=Entered):
    text: str
    extra: Any = None  # an open field: whatever nesting the caller sends


class Ledger(Service):
    service_name = "ledger"

    @handler
    async def note(self, msg: Note, ctx: Context) -> Entered:
        return Entered(by=ctx.sender, text=msg.text)

    @handler(requires=Requires("ledger/enter", on="ledger:main", trusted=True))
    async def enter(self, msg: Entry, ctx: Context) -> Entered:
        return Entered(by=ctx.sender, text=msg.text)


async def test_a_stranger_with_a_delegation_reaches_a_guarded_handler(tmp_path):
    """The same Multiauth check as over libp2p: a caller without the gateway token gets
    through to a handler that requires a capability only with an invocation the guard accepts,
    and the handler sees the invoker as the sender."""
    operator = WalletSigner(EthereumWallet(b"\xb7" * 32))
    config = PeerConfig(
        name="guarded",
        transport="libp2p",
        gateway=GatewayConfig(enabled=True, host="0.0.0.0"),
        auth=AuthConfig(trusted=[operator.did]),
        source=str(tmp_path / "guarded.yaml"),
    )
    server = Node(config)
    server.spawn(Ledger)
    app = Node(PeerConfig(name="app", transport="libp2p"))
    await server.start()
    await app.start()
    try:
        url = server.gateway_url.replace("0.0.0.0", "127.0.0.1") + "/api/ledger/enter"
        grant = app.auth.delegate(
            app.auth.did,
            [Capability("ledger:main", "ledger/enter")],
            signer=operator,
            expires_in=60,
        )
        stranger = WalletSigner(EthereumWallet(b"\xb8" * 32))
        forged = app.auth.delegate(
            app.auth.did,
            [Capability("ledger:main", "ledger/enter")],
            signer=stranger,
            expires_in=60,
        )

        def header(msg, proof):
            container = app.auth.authorization(server.peer_id, msg, proof)
            return {AUTH_HEADER: base64.b64encode(container).decode()}

        async with aiohttp.ClientSession() as http:
            async with http.post(url, json={"text": "no proof"}) as resp:
                assert resp.status == 401
            async with http.post(
                url, json={"text": "x"}, headers=header(Entry(text="x"), forged)
            ) as r:
                assert r.status == 403 and (await r.json())["error"] == "auth_not_granted"
            msg = Entry(text="signed")
            async with http.post(url, json={"text": "signed"}, headers=header(msg, grant)) as r:
                assert r.status == 200, await r.text()
                assert await r.json() == {
                    "type": "test.http.Entered",
                    "by": app.peer_id,
                    "text": "signed",
                }
            again = header(msg, grant)
            async with http.post(url, json={"text": "other"}, headers=again) as r:
                assert r.status == 403  # an invocation is for the message it signed (args)
    finally:
        await app.stop()
        await server.stop()


async def test_hostile_bodies_get_typed_errors_and_the_peer_serves_on(tmp_path):
    """The HTTP surface bounds what the wire bounds: nesting in open fields, body size."""
    server = Node(
        PeerConfig(name="ledger", transport="libp2p", gateway=GatewayConfig(enabled=True))
    )
    server.spawn(Ledger)
    await server.start()
    try:
        url = f"{server.gateway_url}/api/ledger/note"
        deep = "[" * 200 + "]" * 200
        async with aiohttp.ClientSession() as http:
            body = f'{{"text": "x", "extra": {deep}}}'.encode()
            async with http.post(url, data=body) as resp:
                assert resp.status == 400 and "nests deeper" in (await resp.json())["message"]
            huge = b'{"text": "' + b"x" * (2 * 1024 * 1024) + b'"}'
            async with http.post(url, data=huge) as resp:
                assert resp.status in (400, 413)
            async with http.post(url, json={"text": "fine", "extra": [[1]]}) as resp:
                assert resp.status == 200 and (await resp.json())["text"] == "fine"
    finally:
        await server.stop()
