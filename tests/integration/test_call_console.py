"""`peerkit call` and `peerkit console` against a running peer process."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from tests.integration.procs import REPO, PeerProcess, peerkit_cli

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]
GREETER = "sample_app.services.greeter:Greeter"


@pytest.fixture
async def greeter(tmp_path):
    peer = await PeerProcess(tmp_path, "greeter", services=[GREETER]).start()
    yield peer
    await peer.terminate()


async def test_call_prints_the_reply_as_json_and_errors_without_a_traceback(greeter):
    code, out, err = await peerkit_cli(
        "call",
        greeter.addr,
        "sample.Greet",
        '{"name": "shell"}',
        "--import",
        "sample_app.generated.greeter",
        cwd=REPO,
    )
    assert code == 0, err
    assert json.loads(out) == {"type": "sample.Greeting", "text": "hello shell", "by": "greeter"}

    # built-in types need no import; an invalid body is refused here, naming the field
    code, out, err = await peerkit_cli(
        "call",
        greeter.addr,
        "sample.Greet",
        '{"name": ""}',
        "--import",
        "sample_app.generated.greeter",
        cwd=REPO,
    )
    assert code == 1 and "$.name" in err and "Traceback" not in err
    code, _, err = await peerkit_cli("call", greeter.addr, "sample.Nope", cwd=REPO)
    assert code == 1 and "no request type is tagged 'sample.Nope'" in err and "hint:" in err
    code, _, err = await peerkit_cli("call", greeter.addr, "storage.PinLs", "{not json}", cwd=REPO)
    assert code == 1 and "not JSON" in err and "Traceback" not in err
    code, out, err = await peerkit_cli("call", greeter.addr, "storage.PinLs", cwd=REPO)
    assert code == 0 and json.loads(out)["type"] == "storage.PinList"


async def test_console_binds_a_started_node_and_awaits_at_the_prompt(greeter):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        "console",
        "--attach",
        greeter.addr,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    script = (
        "from sample_app.generated.greeter import Greet\n"
        "reply = await node.request(peer, Greet(name='console'))\n"
        "print('REPLY', reply.text, reply.by)\n"
        "print('PEERS', peer in node.peers())\n"
    )
    out, err = await asyncio.wait_for(proc.communicate(script.encode()), 60)
    assert proc.returncode == 0, err.decode()
    assert "REPLY hello console greeter" in out.decode()
    assert "PEERS True" in out.decode()
    assert "peerkit console" in err.decode()  # the banner (the REPL writes it to stderr)
