"""A node built in code honours ``identity`` as a peer run from a peer.yaml does."""

from __future__ import annotations

import stat

from peerkit import Node, PeerConfig
from peerkit.config import parse_config


def test_identity_in_code_and_in_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = Node(PeerConfig(name="a", identity="keys/a.key"))
    assert not (tmp_path / "keys").exists()  # the constructor touches no file...
    assert first.peer_id  # ...the key is read (here: created) when first needed
    again = Node(PeerConfig(name="a", identity="keys/a.key"))
    assert first.peer_id == again.peer_id  # the same key file, the same peer
    assert stat.S_IMODE((tmp_path / "keys/a.key").stat().st_mode) == 0o600
    assert Node(PeerConfig(name="b")).peer_id != Node(PeerConfig(name="b")).peer_id  # none
    source = tmp_path / "peer" / "peer.yaml"
    source.parent.mkdir()
    cfg = parse_config("name: c\n", source=str(source))
    assert Node.from_config(cfg).peer_id == Node.from_config(cfg).peer_id
    assert (source.parent / "identity.key").exists()  # the default beside peer.yaml


def test_a_disabled_family_is_a_typed_error():
    import pytest

    from peerkit.config import StorageConfig
    from peerkit.errors import FamilyDisabled

    node = Node(PeerConfig(name="bare", transport="memory", storage=StorageConfig(enabled=False)))
    for family in ("storage", "naming"):
        with pytest.raises(FamilyDisabled, match=f"{family} is not enabled"):
            getattr(node, family)
    assert node.dcs is not None  # the others are there
