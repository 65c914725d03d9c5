"""A browser's libp2p stack reaches a peerkit peer: js-libp2p (WebSocket, Noise, yamux,
gossipsub) in Node.js dials a peer's WebSocket listener, calls a service in peerkit's wire
format and receives a gossip event. Needs Node.js and the npm registry (skips, saying why)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from peerkit import Node, PeerConfig
from tests.interop.npm import installed

JS = Path(__file__).parent / "js-libp2p"
pytestmark = [pytest.mark.interop, pytest.mark.libp2p]


@pytest.fixture(scope="module")
def client() -> Path:
    return installed(JS, "libp2p", ["client.mjs"]) / "client.mjs"


async def test_a_js_libp2p_node_over_websocket_calls_a_service_and_gets_gossip(client):
    from sample_app.generated.greeter import ChatPosted
    from sample_app.services.greeter import Greeter

    config = PeerConfig(
        name="app",
        log_level="warning",
        listen=["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],  # TCP and WebSocket
    )
    node = Node(config)
    node.spawn(Greeter)
    async with node:
        ws = next(a for a in node.addrs() if "/ws/" in a)
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(client),
            ws,
            "sample.Greet",
            json.dumps({"name": "browser"}),
            "sample.chat",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, (await proc.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
            reply = json.loads(line)
            assert reply["kind"] == 1 and reply["tag"] == "sample.Greeting"
            assert "browser" in reply["payload"]["text"]
            print(f"\nJS dials until the WebSocket handshake went through: {reply['attempts']}")
            assert json.loads(await proc.stdout.readline()) == {"subscribed": "sample.chat"}
            await node.wait_for_subscribers("sample.chat", 1, timeout=30)

            async def publish_until_heard() -> None:  # the mesh forms on a heartbeat
                while True:
                    await node.publish(ChatPosted(author="app", text="hello browser"))
                    await asyncio.sleep(0.25)

            publisher = asyncio.ensure_future(publish_until_heard())
            try:
                event = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
            finally:
                publisher.cancel()
            assert event["kind"] == 4 and event["tag"] == "sample.ChatPosted"
            assert event["payload"]["text"] == "hello browser"
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
