"""Tests of the cms service (the CMS dapp's side on the user's peer): log in with a wallet's
signature, publish a post sealed for its readers, read it on another peer; only the peer's own
user may call it. The page itself is tested in a real browser: tests/browser/test_cms.py."""

import pytest

from peerkit import UserOnly
from peerkit.naming.keys import FAST_TEST_KDF, login_message
from peerkit.wallets import EthereumWallet, KeyError_

from sample_app.generated.cms import (
    Account,
    GetAccount,
    Login,
    Post,
    Publish,
    ReadPost,
)
from sample_app.services.cms import Cms, NotLoggedIn


class FastCms(Cms):
    kdf = FAST_TEST_KDF  # the key derivation at test speed


def login(wallet: EthereumWallet, passphrase: str = "pw") -> Login:
    signature = wallet.sign(login_message(passphrase))
    return Login(address=wallet.address, signature="0x" + signature.hex(), passphrase=passphrase)


async def me(node, wallet: EthereumWallet) -> Account:
    return await node.request(node.peer_id, login(wallet))


async def test_login_derives_the_users_keys_from_the_wallets_signature(peers):
    (node,) = await peers(1, services=[FastCms])
    wallet = EthereumWallet(b"\x01" * 32)
    account = await me(node, wallet)
    assert account.address == wallet.address and len(account.reader.id) == 64
    again = await node.request(node.peer_id, login(wallet))  # the same wallet: the same user
    assert again.reader == account.reader
    assert await node.request(node.peer_id, GetAccount()) == again


async def test_a_forged_signature_is_refused(peers):
    (node,) = await peers(1, services=[FastCms])
    wallet, other = EthereumWallet(b"\x01" * 32), EthereumWallet(b"\x02" * 32)
    forged = login(other)
    forged = Login(address=wallet.address, signature=forged.signature, passphrase="pw")
    with pytest.raises(KeyError_, match="not by"):
        await node.request(node.peer_id, forged)
    with pytest.raises(NotLoggedIn):
        await node.request(node.peer_id, GetAccount())


async def test_a_post_sealed_for_bob_opens_for_bob_only(peers):
    alice, bob, carol = await peers(3, services=[FastCms])
    await me(alice, EthereumWallet(b"\xa1" * 32))
    bob_card = (await me(bob, EthereumWallet(b"\xb0" * 32))).reader
    await me(carol, EthereumWallet(b"\xc0" * 32))
    post = Publish(
        label="home",
        title="Hi",
        body="Sealed.",
        readers=[bob_card],
        logo=b"\x89PNG",
        logo_type="image/png",
    )
    ref = await alice.request(alice.peer_id, post)
    assert bob_card.id in ref.readers and len(ref.readers) == 2
    read = await bob.request(bob.peer_id, ReadPost(name=ref.name))
    assert read == Post(
        name=ref.name,
        sequence=0,
        title="Hi",
        body="Sealed.",
        logo=b"\x89PNG",
        logo_type="image/png",
    )
    with pytest.raises(Exception, match="not a reader"):
        await carol.request(carol.peer_id, ReadPost(name=ref.name))


async def test_other_peers_may_not_act_as_the_user(peers):
    server, client = await peers(2, services=[FastCms])
    for request in (
        login(EthereumWallet(b"\x01" * 32)),
        GetAccount(),
        Publish(label="x", title="t", body="", readers=[]),
        ReadPost(name="k51"),
    ):
        with pytest.raises(UserOnly):
            await client.request(server.peer_id, request)
