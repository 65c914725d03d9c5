import os

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from peerkit.naming.keys import (
    FAST_TEST_KDF,
    Ed25519Wallet,
    EthereumWallet,
    KeyDrift,
    derive_master_key,
    name_key,
    public_bytes,
)

ETH_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


@pytest.mark.parametrize(
    "message", [b"I\xe2\x99\xa5SF", b"", b"peerkit login\npassphrase", bytes(range(256))]
)
def test_eip191_signatures_match_eth_account(message):
    ours = EthereumWallet(ETH_KEY).sign(message)
    theirs = Account.sign_message(encode_defunct(primitive=message), ETH_KEY).signature
    assert ours == bytes(theirs)


def test_eth_address_and_recovery():
    wallet = EthereumWallet(ETH_KEY)
    assert wallet.address == Account.from_key(ETH_KEY).address
    assert EthereumWallet.recover(b"hello", wallet.sign(b"hello")) == wallet.address


# Fixed vectors: the same wallet, passphrase and app give these keys in every release.
def test_master_and_name_key_vectors():
    master = derive_master_key(
        EthereumWallet(ETH_KEY), "correct horse battery staple", "peerkit-tests", kdf=FAST_TEST_KDF
    )
    assert master.check_value == (
        "2523605180f9403fee370965fbb15a80a4ee8208b2e36fb130fc14c65e7d4bdf"
    )
    assert public_bytes(name_key(master, "blog")).hex() == (
        "5cb81940b1be6fa43c53e1f51387d342c8adfbac4e2aad8f5759b118fc033e27"
    )
    ed = derive_master_key(
        Ed25519Wallet(bytes(range(32))), "pw", "peerkit-tests", kdf=FAST_TEST_KDF
    )
    assert ed.check_value == "7b06d6f3be18584c44d33e27c0bf1afdf9ff8c10e8b3ab489a2689cf57650763"


def test_inputs_change_the_key():
    w = EthereumWallet(ETH_KEY)
    base = derive_master_key(w, "pw", "app", kdf=FAST_TEST_KDF).check_value
    assert derive_master_key(w, "pw2", "app", kdf=FAST_TEST_KDF).check_value != base
    assert derive_master_key(w, "pw", "app2", kdf=FAST_TEST_KDF).check_value != base
    assert (
        derive_master_key(EthereumWallet(b"\x01" * 32), "pw", "app", kdf=FAST_TEST_KDF).check_value
        != base
    )


class RandomisingWallet:
    """Like a hardware wallet whose signatures are not deterministic."""

    address = "0xrandom"

    def sign(self, message: bytes) -> bytes:
        return os.urandom(65)


def test_a_drifted_signature_is_refused_not_a_new_identity():
    first = derive_master_key(RandomisingWallet(), "pw", "app", kdf=FAST_TEST_KDF)
    with pytest.raises(KeyDrift, match="different master key") as info:
        derive_master_key(
            RandomisingWallet(), "pw", "app", kdf=FAST_TEST_KDF, expected_check=first.check_value
        )
    assert "hardware wallets" in (info.value.hint or "")


def test_domain_separation():
    master = derive_master_key(Ed25519Wallet(b"\x07" * 32), "pw", "app", kdf=FAST_TEST_KDF)
    keys = {
        public_bytes(master.private),
        public_bytes(name_key(master, "a")),
        public_bytes(name_key(master, "b")),
        master.derive("me-dag/encryption"),
        master.derive("other"),
    }
    assert len(keys) == 5
    assert public_bytes(name_key(master, "a")) == public_bytes(name_key(master, "a"))
