"""A gateway on a non-loopback address serves only health without a token."""

from __future__ import annotations

import stat

import aiohttp
import pytest

from peerkit import Node
from peerkit.config import parse_config

pytestmark = pytest.mark.libp2p


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
async def test_the_gateway_needs_a_token_off_loopback(tmp_path, host):
    source = tmp_path / "peer.yaml"
    config = parse_config(
        f"name: g\ngateway: {{enabled: true, host: '{host}'}}\nstorage: {{backend: memory}}\n",
        source=str(source),
    )
    node = Node(config)
    await node.start()
    try:
        url = node.gateway_url.replace("0.0.0.0", "127.0.0.1")
        token_file = tmp_path / "gateway.token"
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/health/ready") as resp:
                assert resp.status == 200
            async with http.get(url + "/metrics") as resp:
                if host == "127.0.0.1":
                    assert resp.status == 200
                    assert not token_file.exists()
                    return
                assert resp.status == 401
                assert "Bearer" in (await resp.json())["message"]
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            token = token_file.read_text().strip()
            for auth, status in [("Bearer nope", 401), (f"Bearer {token}", 200)]:
                async with http.get(url + "/peers", headers={"Authorization": auth}) as resp:
                    assert resp.status == status
    finally:
        await node.stop()
