"""`peerkit doc ...` against running peer processes."""

import json

import pytest

from tests.integration.procs import PeerProcess, peerkit_cli

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


async def run(*args):
    return await peerkit_cli(*args)


async def test_doc_cli(tmp_path):
    def proc(name, bootstrap=(), control=True):
        p = PeerProcess(tmp_path, name, bootstrap=bootstrap)
        if control:
            p.config.write_text(p.config.read_text() + "dcs: {remote_control: true}\n")
        return p

    alice = await proc("alice").start()
    bob = await proc("bob", [alice.addr]).start()
    closed = await proc("closed", control=False).start()
    try:
        code, out, err = await run("doc", "new", "--via", alice.addr)
        assert code == 0, err
        doc = out.strip()
        code, card, _ = await run("doc", "card", "--via", bob.addr)
        assert json.loads(card)["id"]
        code, out, err = await run("doc", "invite", doc, card.strip(), "--via", alice.addr)
        assert code == 0 and "invited" in out, err
        assert (await run("doc", "edit", doc, "0", "hello", "--via", alice.addr))[0] == 0
        for _ in range(100):
            code, out, _ = await run("doc", "show", doc, "--via", bob.addr)
            if out.startswith("hello"):
                break
        assert out.startswith("hello") and "2 members" in out
        code, _, err = await run("doc", "new", "--via", closed.addr)
        assert code == 3 and "remote_control" in err and "Traceback" not in err
    finally:
        for p in (alice, bob, closed):
            p.kill()
            await p.wait_killed()
