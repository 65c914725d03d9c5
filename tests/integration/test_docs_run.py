"""Docs that run: the README's code is executed as written, so an example cannot drift from
the API again.

- "A first app": the commands, then the handler file exactly as the README shows it; the app's
  tests pass with it.
- "A first peer, by hand": the README's files (messages, services, peer.yaml) written as shown,
  the peer started with the README's command, and the README's Python talking to it.
- Every ```python block of README.md and docs/*.md at least compiles (top-level await allowed);
  blocks that name a file (`# path/to/file.py` on their first line) are the ones run above.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def named(language: str) -> dict[str, str]:
    """README blocks whose first line names the file they are: {path: text}."""
    out = {}
    for text in blocks(README, language):
        first = text.splitlines()[0]
        if first.startswith("# ") and (first.endswith((".py", ".yaml"))):
            out[first[2:].strip()] = text
    return out


def run(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=180, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    "source", [README, *sorted((REPO / "docs").glob("*.md"))], ids=lambda p: p.name
)
def test_every_python_block_compiles(source):
    for text in blocks(source, "python"):
        compile(text, str(source), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.timeout(300)
def test_a_first_app_as_the_readme_writes_it(tmp_path):
    peerkit = [sys.executable, "-m", "peerkit"]
    run(*peerkit, "new", "shop", cwd=tmp_path)
    app = tmp_path / "shop"
    for line in blocks(README, "sh")[2].splitlines():  # "Add one with a request handler"
        command = line.split("#")[0].split()
        assert command[0] == "../.venv/bin/peerkit"
        run(*peerkit, *command[1:], cwd=app)
    handler = named("python")["shop/services/orders.py"]
    (app / "shop" / "services" / "orders.py").write_text(handler)
    tests = app / "tests" / "test_orders.py"
    tests.write_text(re.sub(r"@pytest\.mark\.xfail\(.*?\)\n", "", tests.read_text(), flags=re.S))
    out = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=app)
    assert " passed" in out and "failed" not in out


@pytest.mark.timeout(120)
async def test_a_first_peer_by_hand_as_the_readme_writes_it(tmp_path):
    files = named("python") | named("yaml")
    for path in ("myapp/messages.py", "myapp/services.py", "peer.yaml"):
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path])
    (tmp_path / "myapp" / "__init__.py").write_text("")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "peer.yaml"
    config.write_text(config.read_text().replace("tcp/4001", f"tcp/{port}"))
    command = blocks(README, "sh")[3].split()  # .venv/bin/peerkit run --config peer.yaml
    assert command[1:] == ["run", "--config", "peer.yaml"]
    peer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        *command[1:],
        "--ready-json",
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert peer.stdout is not None
        ready = json.loads(await asyncio.wait_for(peer.stdout.readline(), 60))
        snippet = next(b for b in blocks(README, "python") if "async with Node" in b)
        snippet = snippet.replace("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...", ready["addrs"][0])
        sys.path.insert(0, str(tmp_path))
        try:
            namespace: dict = {}
            code = compile(snippet, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):
                await result
        finally:
            sys.path.remove(str(tmp_path))
            for name in [m for m in sys.modules if m == "myapp" or m.startswith("myapp.")]:
                del sys.modules[name]
        assert namespace["reply"].text == "hello bob"
        assert namespace["cid"].encode().startswith("bafy")
    finally:
        peer.terminate()
        await peer.wait()
