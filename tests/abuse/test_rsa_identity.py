"""A peer whose RSA identity key is malformed, oversized or not the key that signed its
handshake cannot connect, and the peer it tried keeps serving. The key is read by peerkit's own
RSA module (peerkit/_transport/_libp2p_rsa.py) from a stock py-libp2p peer in its own process:
Noise carries the identity key and its signature in the first handshake messages."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from tests.abuse.attack import served, victim
from tests.integration.test_rsa_peers import RSA_HOST

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


async def dial_with_rsa(addr: str, *lie: str) -> dict:
    """A stock py-libp2p peer with an RSA identity (test_rsa_peers.RSA_HOST) dials ``addr``,
    telling ``lie`` about its key if given: what came of the dial."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RSA_HOST,
        addr,
        *lie,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(60):
            await proc.stdout.readline()  # its address
            outcome = await proc.stdout.readline()
            if not outcome:
                raise AssertionError((await proc.stderr.read()).decode()[-2000:])
            return json.loads(outcome)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_a_forged_or_oversized_rsa_identity_is_refused_and_the_peer_keeps_serving(tmp_path):
    async with victim(tmp_path) as v:
        assert await dial_with_rsa(v.addr) == {"dialled": True}  # the same peer, truthful
        for lie in ("garbage", "oversized", "another_key"):
            assert (await dial_with_rsa(v.addr, lie))["dialled"] is False, lie
            await served(v.addr, v.peer_id)
