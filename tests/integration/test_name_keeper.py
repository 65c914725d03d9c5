"""The issue's headline, with separate processes over real libp2p: Alice's wallet lets her app
node "pin and republish my name for 30 days"; Alice goes offline; Bob's peer starts later and
still resolves the name, pushed to him by the app node with the delegation as proof."""

import pytest

from peerkit import Node, PeerConfig
from peerkit.auth import errors as E
from peerkit.auth.principals import Ed25519Signer, WalletSigner
from peerkit.auth.tokens import Capability
from peerkit.naming.keeper import KeepNow
from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet
from peerkit.naming.messages import Republish, ResolveName
from peerkit.naming.records import name_for
from peerkit.testing import wait_for
from tests.integration.procs import PeerProcess

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]
DAYS_30 = 30 * 24 * 3600


async def test_an_app_node_keeps_alices_name_alive_for_bob(tmp_path):
    app = await PeerProcess(tmp_path, "app-node").start()
    alice = Node(PeerConfig(name="alice"))
    stranger = Node(PeerConfig(name="stranger"))
    bob = None
    await alice.start()
    await stranger.start()
    try:
        await alice.connect(app.addr)
        wallet = EthereumWallet(b"\xa7" * 32)
        session = await alice.naming.login(wallet, "passphrase", "sample", kdf=FAST_TEST_KDF)
        key = session.key_for("blog")
        name = name_for(key)
        record = await alice.naming.publish(key, "/ipfs/bafkqaaa", push_to=[app.peer_id])

        binding = alice.auth.delegate(
            WalletSigner(wallet).did,
            [Capability(f"name:{name}", "name/*")],
            signer=Ed25519Signer(key),
            expires_in=365 * 24 * 3600,
        )
        grant = alice.auth.delegate(
            alice.auth.did_of(app.peer_id),
            [Capability(f"name:{name}", "name/republish")],
            signer=WalletSigner(wallet),  # Alice's wallet signature is all it takes
            expires_in=DAYS_30,
            proofs=[binding],
        )
        assert await alice.auth.hold(app.peer_id, grant) == 2
        await alice.stop()  # Alice goes offline

        # Bob's peer starts afterwards; on connecting, the app node pushes Alice's record
        bob = await PeerProcess(tmp_path, "bob", bootstrap=[app.addr]).start()
        await stranger.connect(bob.addr)

        async def bob_resolves():
            found = await stranger.request(bob.peer_id, ResolveName(name=name, local_only=True))
            return found.record == record.raw

        await wait_for(bob_resolves, timeout=20, what="Bob's peer to hold Alice's record")

        # the same request without the delegation is refused by Bob's peer
        with pytest.raises(E.AuthMissing, match="name/republish"):
            await stranger.request(bob.peer_id, Republish(name=name, record=record.raw))
        # and the app node reports what it keeps
        await stranger.connect(app.addr)
        kept = await stranger.request(app.peer_id, KeepNow())
        assert kept.names == [name]
    finally:
        await stranger.stop()
        if alice.running:
            await alice.stop()
        for p in (app, bob):
            if p is not None:
                p.kill()
                await p.wait_killed()
