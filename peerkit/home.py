"""The per-user home: the peer a person's commands use outside an app folder.

In an app folder (one with a ``peer.yaml``) commands use that peer. Anywhere else ``peerkit
run``, ``put``, ``get``, ``pin``, ``dag``, ``gc``, ``login`` and ``keys`` use a default peer kept in
the user's data directory, as Kubo keeps ``~/.ipfs``:

    $PEERKIT_HOME, else $XDG_DATA_HOME/peerkit, else ~/.local/share/peerkit

created (owner-only) on first use, with a ``peer.yaml`` naming the peer after the user; the
command says where it lives when it creates it.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
from pathlib import Path

from .private_files import private_dir, write_private

APP_CONFIG = Path("peer.yaml")


def home_dir() -> Path:
    configured = os.environ.get("PEERKIT_HOME")
    if configured:
        return Path(configured).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "peerkit"


def in_app() -> bool:
    """Whether the current folder is an app's (it has a peer.yaml)."""
    return APP_CONFIG.is_file()


def config_path(given: str | Path | None) -> Path:
    """The peer.yaml a command uses: the one given, ./peer.yaml in an app folder, else the
    home peer's (created if missing)."""
    if given is not None:
        return Path(given)
    if in_app():
        return APP_CONFIG
    return ensure_home()


def ensure_home() -> Path:
    home = home_dir()
    config = home / "peer.yaml"
    if config.is_file():
        return config
    home.parent.mkdir(parents=True, exist_ok=True)
    private_dir(home)
    name = re.sub(r"[^a-z0-9-]+", "-", getpass.getuser().lower()).strip("-") or "me"
    write_private(
        config,
        "# Your own peer, for peerkit commands run outside an app folder.\n"
        f"name: {name}\n"
        "identity: identity.key\n"
        "storage: {backend: sqlite, path: blocks.db}\n",
    )
    print(f"peerkit: created your peer's home at {home} (PEERKIT_HOME moves it)", file=sys.stderr)
    return config


def session_dir() -> Path:
    """Where ``peerkit login`` keeps its session: ./.peerkit/ in an app folder (or a folder that
    already holds one), else the home."""
    local = Path(".peerkit")
    return local if in_app() or local.is_dir() else home_dir()
