"""Addresses and refusing what cannot work, with real peer processes on this machine."""

import subprocess
import sys

import pytest

from tests.integration.procs import REPO, PeerProcess

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


def run_peer(config) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "peerkit", "run", "-c", str(config), "--ready-json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


async def test_a_second_peer_on_a_taken_port_or_identity_is_refused(tmp_path):
    first = await PeerProcess(tmp_path, "first").start()
    try:
        port = int(first.addrs[0].split("/tcp/")[1].split("/")[0])
        # another folder, the same port: before, it started and split the connections
        other = PeerProcess(tmp_path, "other", port=port)
        proc = run_peer(other.config)
        assert proc.returncode == 2, proc.stderr
        assert f"{other.config}:2: cannot listen on /ip4/127.0.0.1/tcp/{port}" in proc.stderr
        assert "listens there" in proc.stderr and "Traceback" not in proc.stderr
        # the same folder (identity and block store) on another port
        same = first.config.read_text().replace('/tcp/0"', '/tcp/0", "/ip4/127.0.0.1/tcp/0"')
        twin = tmp_path / "first" / "twin.yaml"
        twin.write_text(same)
        proc = run_peer(twin)
        assert proc.returncode == 2, proc.stderr
        assert "is in use by a running peer (pid" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        await first.terminate()
    # once the first has stopped, the same folder starts (the lock went with the process)
    again = await PeerProcess(tmp_path, "first").start()
    await again.terminate()


async def test_a_peer_on_every_interface_announces_dialable_addresses(tmp_path):
    from peerkit import Node, PeerConfig

    server = PeerProcess(tmp_path, "server")
    server.config.write_text(
        server.config.read_text().replace("/ip4/127.0.0.1/tcp/0", "/ip4/0.0.0.0/tcp/0")
        + 'announce: ["/dns4/server.example/tcp/4001"]\n'
    )
    await server.start()
    try:
        assert server.addrs[0] == f"/dns4/server.example/tcp/4001/p2p/{server.peer_id}"
        assert not any("/0.0.0.0/" in a for a in server.addrs)
        assert any("/ip4/127.0.0.1/" in a for a in server.addrs)
        async with Node(PeerConfig(name="client", log_level="warning")) as client:
            # every address is tried in turn: the announced name does not resolve here
            assert await client.connect(server.addrs) == server.peer_id
            await client.transport.disconnect(server.peer_id)
            # known by id alone now
            assert await client.connect(server.peer_id) == server.peer_id
    finally:
        await server.terminate()
