"""A per-user home: outside an app folder, `peerkit put/get/pin/run/login` use a default peer
kept in the user's data directory ($PEERKIT_HOME here), created owner-only on first use; in an
app folder they use its peer.yaml."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes


def peerkit(*args: str, cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "peerkit", *args],
        cwd=cwd,
        env={**os.environ, "PEERKIT_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_outside_an_app_use_the_home_peer(tmp_path):
    home, anywhere = tmp_path / "home", tmp_path / "somewhere"
    anywhere.mkdir()
    (anywhere / "note.txt").write_text("kept at home")
    put = peerkit("put", "note.txt", "--pin", "note", cwd=anywhere, home=home)
    assert put.returncode == 0, put.stderr
    assert f"created your peer's home at {home}" in put.stderr
    cid = put.stdout.strip()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "peer.yaml").stat().st_mode) == 0o600
    assert (home / "blocks.db").exists() and not (anywhere / "blocks.db").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    got = peerkit("get", cid, cwd=elsewhere, home=home)
    assert got.stdout == "kept at home" and "created" not in got.stderr  # created once
    assert f"note\t{cid}" in peerkit("pin", "ls", cwd=elsewhere, home=home).stdout

    login = peerkit(
        "login", "--new-wallet", cwd=elsewhere, home=home, PEERKIT_PASSPHRASE="a long passphrase"
    )
    assert login.returncode == 0, login.stderr
    assert (home / "session.json").exists() and (home / "wallet.key").exists()


def test_in_an_app_folder_its_own_peer_is_used(tmp_path):
    home, app = tmp_path / "home", tmp_path / "app"
    app.mkdir()
    (app / "peer.yaml").write_text("name: appy\n")
    (app / "f.txt").write_text("x")
    put = peerkit("put", "f.txt", cwd=app, home=home)
    assert put.returncode == 0, put.stderr
    assert (app / "blocks.db").exists() and not home.exists()


@pytest.mark.libp2p
def test_run_outside_an_app_runs_the_home_peer(tmp_path):
    home, anywhere = tmp_path / "home", tmp_path / "anywhere"
    anywhere.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "peerkit", "run", "--ready-json"],
        cwd=anywhere,
        env={**os.environ, "PEERKIT_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["peer_id"].startswith("12D3KooW")
        assert (home / "identity.key").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
