"""The newcomer's path, as the README tells it: new app, a generated service, one line of
handler, and two peers over real libp2p answering each other."""

import os
import re
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.libp2p


def run(*args, cwd, env=None):
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=180, env=env or os.environ.copy()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_new_generate_one_line_two_libp2p_peers(tmp_path):
    t0 = time.perf_counter()
    peerkit = [sys.executable, "-m", "peerkit"]
    run(*peerkit, "new", "demoapp", "--no-sample", cwd=tmp_path)
    app = tmp_path / "demoapp"
    run(*peerkit, "generate", "service", "greeter", "greet", "name:str", cwd=app)
    run(*peerkit, "generate", "message", "greeter", "GreetReply", "text:str", cwd=app)

    # the one line of handler, and the pending mark on its test removed
    service = app / "demoapp/services/greeter.py"
    stub = "        raise self.not_implemented(msg)"
    assert service.read_text().count(stub) == 1
    service.write_text(
        service.read_text().replace(stub, '        return GreetReply(text=f"hello {msg.name}")')
    )
    tests = app / "tests/test_greeter.py"
    tests.write_text(re.sub(r"@pytest\.mark\.xfail\(.*?\)\n", "", tests.read_text(), flags=re.S))

    env = {**os.environ, "PYTHONPATH": str(app)}
    out = run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--peerkit-libp2p",
        "tests/test_greeter.py",
        "-k",
        "test_greet",
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
        cwd=app,
        env=env,
    )
    assert "1 passed" in out, out
    # and the same request from a script, to see the reply itself
    script = (
        "import asyncio\n"
        "from peerkit.testing import PeerSet\n"
        "from demoapp.generated.greeter import Greet\n"
        "from demoapp.services.greeter import Greeter\n"
        "async def main():\n"
        "    peers = PeerSet()\n"
        "    a, b = await peers.start(2, services=[Greeter], transport='libp2p')\n"
        "    assert '/tcp/' in a.addrs()[0]\n"
        "    print((await b.request(a.peer_id, Greet(name='newcomer'))).text)\n"
        "    await peers.close()\n"
        "asyncio.run(main())\n"
    )
    printed = run(sys.executable, "-c", script, cwd=app, env=env).splitlines()
    assert "hello newcomer" in printed  # (the rest of stdout is the peers' logs)
    print(f"newcomer path (new -> reply over libp2p): {time.perf_counter() - t0:.1f} s")
