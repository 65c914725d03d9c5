"""`peerkit up` with a 6-peer formation over real libp2p, each peer its own process."""

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest

from peerkit import Node, PeerConfig
from peerkit.rendezvous.messages import Discover
from tests.integration.procs import REPO, peerkit_cli
from tests.integration.test_rendezvous_gateway import parse_prometheus

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

FORMATION = """\
name: t6
roles:
  rendezvous:
    count: 1
    rendezvous_point: true
    config: {log_level: warning}
  app-node:
    count: 2
    services: ["sample_app.services.greeter:Greeter"]
    config: {log_level: warning, rendezvous: {namespaces: [t6/nodes], ttl: 6}}
  user:
    count: 3
    per_process: 3
    config: {log_level: warning, rendezvous: {prefer: [t6/nodes], ttl: 6}}
restart: {policy: on-failure, max_restarts: 3}
"""


async def until(pred, what, timeout=40.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await pred()
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def cli(*args, cwd):
    return await peerkit_cli(*args, cwd=cwd)


async def test_six_peer_formation(tmp_path):
    (tmp_path / "formation.yaml").write_text(FORMATION)
    state_file = tmp_path / ".peerkit" / "formations" / "t6" / "state.json"
    up = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        "up",
        "formation.yaml",
        "--json-logs",
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
    client = Node(PeerConfig(name="probe"))
    await client.start()

    def state():
        return json.loads(state_file.read_text()) if state_file.exists() else None

    def peers(role):
        return [p for p in state()["peers"] if p["role"] == role]

    async def connected_peers(p):
        try:
            async with http.get(p["gateway"] + "/peers") as r:
                return set((await r.json())["peers"])
        except (aiohttp.ClientError, TimeoutError):
            return set()

    try:
        await until(lambda: _ready(state()), "all six peers ready", timeout=90)
        app_ids = {p["peer_id"] for p in peers("app-node")}

        async def users_see_both_app_nodes():
            return all([app_ids <= await connected_peers(u) for u in peers("user")])

        await until(users_see_both_app_nodes, "every user connected to both app nodes")
        # the three users share one process (per_process: 3), each with its own peer id
        users = peers("user")
        assert len({u["pid"] for u in users}) == 1 and len({u["peer_id"] for u in users}) == 3

        # /metrics of a user parses as Prometheus text
        async with http.get(peers("user")[0]["gateway"] + "/metrics") as r:
            families = parse_prometheus(await r.text())
        assert sum(v for _, v in families["peerkit_connections"]) >= 3

        # `peerkit status` from another terminal
        code, out, _ = await cli("status", cwd=tmp_path)
        assert code == 0 and "formation t6: up" in out and out.count(" ready ") == 6
        code, out, _ = await cli("status", "--json", cwd=tmp_path)
        status = json.loads(out)
        assert code == 0 and status["up"] and [p["state"] for p in status["peers"]] == ["ready"] * 6
        assert all(p["status"]["peer_id"] == p["peer_id"] for p in status["peers"])

        # the rendezvous point is killed; the formation restarts it; the app nodes re-register
        rv = peers("rendezvous")[0]
        os.kill(rv["pid"], signal.SIGKILL)
        await until(lambda: _restarted(state(), "rendezvous-0"), "the rendezvous restart")
        rv = peers("rendezvous")[0]
        await client.connect(rv["addrs"][0])

        async def both_registered_again():
            found = await client.request(rv["peer_id"], Discover(namespace="t6/nodes"))
            return {r.peer for r in found.registrations} == app_ids

        await until(both_registered_again, "the app nodes to register again")

        # an app node is killed: users keep the other one (and the first comes back)
        victim, other = peers("app-node")
        os.kill(victim["pid"], signal.SIGKILL)

        async def users_keep_the_other():
            return all([other["peer_id"] in await connected_peers(u) for u in peers("user")])

        await until(users_keep_the_other, "users to stay connected to the other app node")
        await until(lambda: _restarted(state(), victim["name"]), "the app node restart")

        # the users' shared process dies: all three come back together
        os.kill(peers("user")[0]["pid"], signal.SIGKILL)
        for name in ("user-0", "user-1", "user-2"):
            await until(lambda name=name: _restarted(state(), name), f"{name} to restart")
        await until(users_see_both_app_nodes, "the restarted users to reach the app nodes")

        # formation.yaml edited while it runs: status and down still find the running one
        (tmp_path / "formation.yaml").write_text(FORMATION.replace("name: t6", "name: t7"))
        code, out, _ = await cli("status", "--json", cwd=tmp_path)
        assert code == 0 and json.loads(out)["name"] == "t6" and json.loads(out)["up"]
        code, out, _ = await cli("down", cwd=tmp_path)
        assert code == 0 and "stopped" in out
        assert await asyncio.wait_for(up.wait(), 30) == 0
        # --json-logs: every line the formation printed is a JSON object with a UTC time,
        # and the restarts above were reported as changes of single peers
        lines = (await up.stdout.read()).decode().splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        assert events and all(e["timestamp"].endswith("Z") for e in events)
        changes = [e for e in events if e.get("event") == "formation.peer"]
        assert any(e["peer"] == "rendezvous-0" and e["restarts"] == "1" for e in changes)
    finally:
        await http.close()
        await client.stop()
        if up.returncode is None:
            up.kill()
            await up.wait()


def _ready(s):
    async def check():
        return (
            s is not None
            and all(p["state"] == "ready" for p in s["peers"])
            and len(s["peers"]) == 6
        )

    return check()


def _restarted(s, name):
    async def check():
        p = next(p for p in s["peers"] if p["name"] == name)
        return p["restarts"] >= 1 and p["state"] == "ready"

    return check()
