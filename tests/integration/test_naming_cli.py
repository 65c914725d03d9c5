"""The naming CLI against a running peer process."""

import asyncio
import os
import stat
import sys

import pytest

from tests.integration.procs import PeerProcess

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


async def run(cwd, *args, passphrase="secret"):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        *args,
        cwd=cwd,
        env={**os.environ, "PEERKIT_PASSPHRASE": passphrase},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_login_publish_resolve_history_revoke(tmp_path):
    host = await PeerProcess(tmp_path, "host").start()
    try:
        # a session folder and file someone left readable become owner-only at login
        (tmp_path / ".peerkit").mkdir(mode=0o755)
        (tmp_path / ".peerkit/session.json").write_text("{}")
        os.chmod(tmp_path / ".peerkit", 0o755)
        os.chmod(tmp_path / ".peerkit/session.json", 0o644)
        code, out, err = await run(tmp_path, "login", "--new-wallet")
        assert code == 0, err
        assert "Me DAG name: k51" in out
        for path, mode in [(".peerkit", 0o700), (".peerkit/session.json", 0o600)]:
            assert stat.S_IMODE((tmp_path / path).stat().st_mode) == mode, path
        assert "master_seed" not in (tmp_path / ".peerkit/session.json").read_text()
        code, _, err = await run(tmp_path, "keys", "show", passphrase="wrong")
        assert code != 0 and "wrong passphrase" in err and "Traceback" not in err
        code, _, err = await run(tmp_path, "login", passphrase="not it")
        assert code == 3 and "different master key" in err and "Traceback" not in err
        code, out, _ = await run(tmp_path, "keys", "show", "--name", "blog")
        name = out.split("name 'blog': ")[1].strip()
        via = ["--via", host.addr]
        code, out, err = await run(tmp_path, "name", "publish", "blog", "/ipfs/bafkqaaa", *via)
        assert code == 0 and "seq=0" in out, err
        code, out, err = await run(tmp_path, "name", "publish", "blog", "/ipfs/bafkqaaa", *via)
        assert code == 0 and "seq=1" in out, err
        code, out, _ = await run(tmp_path, "name", "resolve", name, *via)
        assert f"{name}  seq=1" in out
        code, out, _ = await run(tmp_path, "name", "history", "blog", *via)
        assert out.count(name) == 2
        # watch: the record there is now at once, then each new one as it is published
        watcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "peerkit",
            "name",
            "watch",
            name,
            *via,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert watcher.stdout is not None
            first = await asyncio.wait_for(watcher.stdout.readline(), 60)
            assert f"{name}  seq=1" in first.decode()
            code, out, err = await run(tmp_path, "name", "publish", "blog", "/ipfs/bafkqaaa", *via)
            assert code == 0 and "seq=2" in out, err
            second = await asyncio.wait_for(watcher.stdout.readline(), 60)
            assert f"{name}  seq=2" in second.decode()
        finally:
            watcher.terminate()
            await watcher.wait()
        code, out, _ = await run(tmp_path, "name", "revoke", "blog", *via)
        assert "REVOKED" in out
        code, _, err = await run(tmp_path, "name", "publish", "blog", "/ipfs/bafkqaaa", *via)
        assert code == 3 and "revoked" in err
    finally:
        host.kill()
        await host.wait_killed()
