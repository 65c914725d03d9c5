"""Peers with RSA identities (older go-ipfs and js-ipfs nodes) connect to peerkit peers both
ways. The RSA peer is stock py-libp2p in its own process, its keys made and its handshake
signed by py-libp2p's own RSA module (PyCryptodome); the peerkit side reads and verifies them
with peerkit's replacement on `cryptography` (peerkit/_transport/_libp2p_rsa.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest

from peerkit import Node, PeerConfig
from peerkit.testing import wait_for

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

# Stock py-libp2p, no peerkit import: an RSA identity, Noise and yamux, as go-ipfs offers them.
# argv[1]: the address to dial; argv[2], optional: a lie to tell about its key in the handshake
# (tests/abuse/test_rsa_identity.py). Prints its address, then whether the dial went through;
# stays up once connected, until killed.
RSA_HOST = textwrap.dedent(
    """
    import json, sys
    import multiaddr, trio
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as crsa
    from libp2p import create_yamux_muxer_option, new_host
    from libp2p.crypto import rsa
    from libp2p.crypto.x25519 import create_new_key_pair as x25519_pair
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE
    from libp2p.security.noise.transport import Transport as NoiseTransport

    def spki(key):
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    LIES = {
        "garbage": lambda: b"\\x30\\x82\\x01\\x22" + b"\\xff" * 290,
        # an 8192-bit modulus: refused for its size before any signature is checked
        "oversized": lambda: spki(crsa.RSAPublicNumbers(65537, (1 << 8191) | 1).public_key()),
        # a real RSA key, but not the one that signs the handshake
        "another_key": lambda: spki(
            crsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()),
    }
    if len(sys.argv) > 2:
        lie = LIES[sys.argv[2]]()
        rsa.RSAPublicKey.to_bytes = lambda self: lie

    async def main():
        keys = rsa.create_new_key_pair()
        noise = NoiseTransport(keys, noise_privkey=x25519_pair().private_key)
        host = new_host(
            key_pair=keys, sec_opt={NOISE: noise}, muxer_opt=create_yamux_muxer_option()
        )
        async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            addr = f"{host.get_addrs()[0]}"
            if "/p2p/" not in addr:
                addr += f"/p2p/{host.get_id()}"
            print(json.dumps({"addr": addr, "peer_id": str(host.get_id()),
                              "rsa": rsa.__file__}), flush=True)
            try:
                with trio.fail_after(30):
                    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(sys.argv[1])))
            except Exception as exc:
                print(json.dumps({"dialled": False, "error": type(exc).__name__}), flush=True)
                return
            print(json.dumps({"dialled": True}), flush=True)
            await trio.sleep_forever()

    trio.run(main)
    """
)


async def test_an_rsa_peer_dials_a_peerkit_peer_and_is_dialled_by_one():
    dialled = Node(PeerConfig(name="dialled", log_level="warning"))
    dialler = Node(PeerConfig(name="dialler", log_level="warning"))
    await dialled.start()
    await dialler.start()
    rsa_host = subprocess.Popen(
        [sys.executable, "-c", RSA_HOST, dialled.addrs()[0]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert rsa_host.stdout is not None
        # read in a thread: the nodes' loop must run to answer the handshake meanwhile
        readline = rsa_host.stdout.readline
        hello = json.loads(await asyncio.to_thread(readline) or "{}")
        assert hello, rsa_host.stderr.read() if rsa_host.poll() is not None else "no address"
        assert hello["rsa"].endswith("libp2p/crypto/rsa.py")  # py-libp2p's own, PyCryptodome
        assert hello["peer_id"].startswith("Qm")  # an RSA key hashes to a sha2-256 peer id

        # it dials us: as the responder we verify its RSA-signed handshake
        assert json.loads(await asyncio.to_thread(readline)) == {"dialled": True}
        await wait_for(
            lambda: hello["peer_id"] in dialled.peers(),
            timeout=10,
            what="the RSA peer among the dialled node's peers",
        )
        # we dial it: as the initiator we verify it is the peer its address names
        assert await dialler.connect(hello["addr"]) == hello["peer_id"]
    finally:
        rsa_host.kill()
        rsa_host.wait()
        await dialler.stop()
        await dialled.stop()
