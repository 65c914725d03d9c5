"""The login session seals the master key under the passphrase; files stay owner-only."""

import json
import os
import stat

import pytest

from peerkit.naming.keys import FAST_TEST_KDF, EthereumWallet, derive_master_key
from peerkit.naming.session import SessionError, open_session, seal_session
from peerkit.private_files import private_dir, write_private


def test_the_session_keeps_no_usable_secret_in_clear():
    master = derive_master_key(EthereumWallet(b"\x01" * 32), "pass", "app", kdf=FAST_TEST_KDF)
    doc = seal_session(master, "pass", app="app", address="0xabc", kdf=FAST_TEST_KDF)
    text = json.dumps(doc)
    assert master.private.private_bytes_raw().hex() not in text
    assert "master_seed" not in text
    assert open_session(doc, "pass").check_value == master.check_value
    with pytest.raises(SessionError, match="wrong passphrase"):
        open_session(doc, "not it")
    with pytest.raises(SessionError, match="older peerkit"):
        open_session({"master_seed": "00" * 32, "check": master.check_value}, "pass")
    doc["sealed_master"]["box"] = "zz"
    with pytest.raises(SessionError, match="damaged"):
        open_session(doc, "pass")


def test_secret_files_and_folders_become_owner_only(tmp_path):
    folder = tmp_path / ".peerkit"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    target = folder / "session.json"
    target.write_text("{}")
    os.chmod(target, 0o644)
    private_dir(folder)
    write_private(target, "secret")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == "secret"
    assert [p.name for p in folder.iterdir()] == ["session.json"]  # no temp file left
