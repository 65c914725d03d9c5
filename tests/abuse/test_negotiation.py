"""Only Noise and yamux are negotiated: a peer offering mplex or plaintext cannot connect."""

from __future__ import annotations

import asyncio

import multiaddr
import pytest
import trio
from libp2p import create_mplex_muxer_option, new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex

from tests.abuse.attack import served, victim

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


def dial_with(addr: str, *, security: str, muxer: str) -> str:
    """Dial ``addr`` from a plain py-libp2p host (in its own trio run); what happened."""

    async def main() -> str:
        keys = create_new_key_pair()
        sec = (
            {NOISE: NoiseTransport(keys, noise_privkey=create_x25519_key_pair().private_key)}
            if security == "noise"
            else {PLAINTEXT_PROTOCOL_ID: InsecureTransport(keys)}
        )
        mux = {MPLEX_PROTOCOL_ID: Mplex} if muxer == "mplex" else create_mplex_muxer_option()
        host = new_host(key_pair=keys, sec_opt=sec, muxer_opt=mux)
        async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            try:
                with trio.fail_after(10):
                    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))
            except Exception as exc:
                return f"refused: {type(exc).__name__}"
            return "connected"

    return trio.run(main)


@pytest.mark.parametrize(("security", "muxer"), [("noise", "mplex"), ("plaintext", "yamux+mplex")])
async def test_mplex_and_plaintext_are_refused(tmp_path, security, muxer):
    async with victim(tmp_path) as v:
        outcome = await asyncio.to_thread(dial_with, v.addr, security=security, muxer=muxer)
        assert outcome.startswith("refused"), outcome
        await served(v.addr, v.peer_id)


async def test_noise_with_yamux_offered_among_others_connects(tmp_path):
    async with victim(tmp_path) as v:
        # a peer preferring mplex but also speaking yamux settles on yamux
        outcome = await asyncio.to_thread(dial_with, v.addr, security="noise", muxer="mplex+yamux")
        assert outcome == "connected"
