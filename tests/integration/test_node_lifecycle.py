"""A node that cannot start says why, and leaves nothing running."""

from __future__ import annotations

import asyncio

import pytest

from peerkit import Actor, Node, PeerConfig
from peerkit._transport.bridge import TrioGuest
from peerkit.config import SupervisionConfig
from peerkit.errors import SupervisorEscalation
from tests.conftest import TRANSPORTS


class NeverStarts(Actor):
    async def on_start(self) -> None:
        raise RuntimeError("the database is gone")


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_start_fails_cleanly_when_an_actor_cannot_start(kind):
    fast = SupervisionConfig(backoff=0.001)
    node = Node(PeerConfig(name="doomed", transport=kind, supervision=fast))
    node.spawn(NeverStarts)
    with pytest.raises(SupervisorEscalation, match="the database is gone"):
        await asyncio.wait_for(node.start(), 20)
    assert not node.running
    assert not node._transport_up
    await node.stop()  # idempotent after a failed start
    if kind == "libp2p":
        assert asyncio.get_running_loop() not in TrioGuest._per_loop  # the trio side is gone


def test_building_a_node_opens_no_file(tmp_path, monkeypatch):
    from peerkit.config import parse_config

    monkeypatch.chdir(tmp_path)
    source = tmp_path / "peer.yaml"
    source.write_text("name: quiet\nstorage: {backend: sqlite}\n")
    Node.from_config(parse_config(source.read_text(), source=str(source)))
    assert not (tmp_path / "blocks.db").exists()  # opened by start(), not by the constructor


async def test_the_store_opens_at_start_and_closes_at_stop(tmp_path):
    from peerkit.config import parse_config
    from peerkit.storage.extension import StorageExtension

    source = tmp_path / "peer.yaml"
    source.write_text("name: s\ntransport: memory\nstorage: {backend: sqlite}\n")
    node = Node.from_config(parse_config(source.read_text(), source=str(source)))
    await node.start()
    cid = await node.storage.put({"kept": True})
    assert node.storage.has(cid) and (tmp_path / "blocks.db").exists()
    await node.stop()
    assert "store" not in vars(node.extension(StorageExtension))  # closed and let go
