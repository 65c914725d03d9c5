"""Errors that explain: a refused dial says so, a bad peer id is the caller's mistake, and a
misspelled service class is reported at formation.yaml's line with what the module has."""

from __future__ import annotations

import socket

import pytest

from peerkit import Node, PeerConfig
from peerkit.errors import ConfigError, DialFailed, InvalidPeerId, UsageError
from peerkit.formation.spec import check_services, load_formation
from peerkit.node import import_actor
from peerkit.storage.messages import PinLs

pytestmark = pytest.mark.libp2p
PEER = "12D3KooWSEs8fSmAsaYQ8WtvWvgh4M1gKo5Qu947KMbGfhnhAkXh"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


async def test_a_refused_dial_says_connection_refused():
    node = Node(PeerConfig(name="dialler", transport="libp2p"))
    await node.start()
    try:
        with pytest.raises(DialFailed, match="connection refused"):
            await node.connect(f"/ip4/127.0.0.1/tcp/{closed_port()}/p2p/{PEER}", timeout=5)
        with pytest.raises(UsageError, match="is not a peer id") as bad:
            await node.request("not-a-peer-id", PinLs())
        assert isinstance(bad.value, InvalidPeerId)
    finally:
        await node.stop()


def test_a_missing_service_class_is_reported_where_it_is_written(tmp_path):
    formation = tmp_path / "formation.yaml"
    formation.write_text(
        "name: fx\nroles:\n  app:\n    count: 1\n    services:\n"
        '      - "sample_app.services.greeter:Greeter"\n'
        '      - "sample_app.services.greeter:Greetr"\n'
    )
    with pytest.raises(ConfigError) as err:
        check_services(load_formation(formation))
    assert err.value.line == 7 and err.value.path == str(formation)
    assert "has no Greetr" in str(err.value) and "Greeter" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="not an Actor class"):
        import_actor("sample_app.services.greeter:Context")
