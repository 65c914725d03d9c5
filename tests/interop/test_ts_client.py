"""The third surface: the TypeScript client `peerkit generate` writes, compiled with tsc
(strict) and run in Node.js against a real peer. For each request of the sample service the
same invalid inputs get the same errors over libp2p, over HTTP and through the client.

Needs Node.js and the npm registry (skipped, saying why, without them)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from peerkit import Node, PeerkitError
from peerkit.config import GatewayConfig, PeerConfig
from tests.interop.npm import installed

from sample_app.generated.greeter import Announce, Greet, Relay
from sample_app.services.greeter import Greeter

HERE = Path(__file__).parent / "ts"
GENERATED = Path(__file__).resolve().parents[2] / "sample_app" / "generated" / "greeter.ts"
pytestmark = [pytest.mark.interop, pytest.mark.libp2p]

# (handler, JSON body, the same request as a Python message): invalid in different ways
INVALID = [
    ("greet", {"name": ""}, Greet(name="")),
    ("greet", {"name": "x" * 65}, Greet(name="x" * 65)),
    ("relay", {"to": "not-a-peer-id", "name": "a"}, Relay(to="not-a-peer-id", name="a")),
    ("announce", {"texts": ["t"] * 101}, Announce(texts=["t"] * 101)),
]


@pytest.fixture(scope="module")
def compiled() -> Path:
    folder = installed(HERE, "typescript", ["check.ts", "tsconfig.json"], timeout=240)
    shutil.copy(GENERATED, folder / "greeter.ts")
    tsc = folder / "node_modules" / ".bin" / "tsc"
    proc = subprocess.run([str(tsc), "-p", "."], cwd=folder, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the generated client type-checks
    return folder


async def run_client(folder: Path, base: str, calls: list[dict]) -> list[dict]:
    """Node.js runs the compiled client (beside this loop, which serves the peer it calls)."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        "out/check.js",
        cwd=folder,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    job = json.dumps({"base": base, "calls": calls}).encode()
    out, err = await asyncio.wait_for(proc.communicate(job), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)["results"]


async def test_the_same_invalid_input_gets_the_same_error_on_every_surface(compiled):
    server = Node(
        PeerConfig(name="server", transport="libp2p", gateway=GatewayConfig(enabled=True))
    )
    server.spawn(Greeter)
    client = Node(PeerConfig(name="client", transport="libp2p"))
    await server.start()
    await client.start()
    try:
        await client.connect(server.addrs()[0])
        over_libp2p = []
        for _, _, msg in INVALID:
            with pytest.raises(PeerkitError) as caught:
                await client.request(server.peer_id, msg)
            over_libp2p.append({"error": caught.value.code, "message": str(caught.value)})
        over_http = []
        async with aiohttp.ClientSession() as http:
            for handler, body, _ in INVALID:
                url = f"{server.gateway_url}/api/greeter/{handler}"
                async with http.post(url, json=body) as resp:
                    answer = await resp.json()
                    assert resp.status == 400
                over_http.append({"error": answer["error"], "message": answer["message"]})
        calls = [{"handler": h, "body": b} for h, b, _ in INVALID]
        calls.append({"handler": "greet", "body": {"name": "from typescript"}})
        *through_ts, ok = await run_client(compiled, server.gateway_url, calls)
        assert [{"error": r["error"], "message": r["message"]} for r in through_ts] == over_http
        assert over_http == over_libp2p
        assert all(r["status"] == 400 for r in through_ts)
        assert all(e["error"] == "invalid" for e in over_libp2p)
        assert ok == {
            "ok": {"type": "sample.Greeting", "text": "hello from typescript", "by": "server"}
        }
    finally:
        await client.stop()
        await server.stop()
