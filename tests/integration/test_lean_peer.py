"""A running peer imports what it uses, when it first uses it: every module a peer keeps is
memory it keeps (docs/performance.md, "Memory"). `peerkit run` with its gateway, in its own
process as in a formation: no CLI tooling (rich tables, the storage and naming commands), no
CRDT library before a shared document is opened, no Prometheus client before /metrics is
scraped, no PyCryptodome (Keccak) before a wallet signature, no WebSocket stack without a /ws
address, no DNS library before a DNS name is resolved, nothing structlog would take along
unused (rich, greenlet); and each arrives, working, once it is used."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

REPO = Path(__file__).resolve().parents[2]

# `peerkit run`, with a line of the modules it holds printed when it stops; told to (SIGUSR1),
# it opens a shared document and prints what it holds then.
RUNNER = textwrap.dedent(
    """
    import atexit, json, signal, sys

    def held():
        names = ("pycrdt", "prometheus_client", "peerkit.cli.output", "rich", "Crypto",
                 "greenlet", "trio_websocket", "dns")
        return sorted(n for n in names if n in sys.modules)

    def use(*_):
        from peerkit.dcs.doc import SharedDoc
        from peerkit.dcs.crypto import Identity
        doc = SharedDoc.create(Identity.generate())
        doc.edit(lambda d: d.text.insert(0, "hello"))
        print(json.dumps({"text": doc.content(), "held": held()}),
              flush=True)

    signal.signal(signal.SIGUSR1, use)
    atexit.register(lambda: print(json.dumps({"at_exit": held()}), flush=True))
    sys.argv = ["peerkit", *sys.argv[1:]]
    from peerkit.cli.main import main
    raise SystemExit(main())
    """
)


@contextmanager
def lean_peer(tmp_path: Path, name: str) -> Iterator[tuple[subprocess.Popen[str], dict]]:
    """The runner as `peerkit run` of one peer with its gateway, ready; killed if still up."""
    (tmp_path / "peer.yaml").write_text(
        f"name: {name}\nlog_level: warning\ngateway: {{enabled: true}}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "run", "-c", "peer.yaml", "--ready-json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready", ready
        yield proc, ready
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> dict:
    """SIGTERM, as a formation stops its peers: the runner's last line, once it has exited."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_running_peer_loads_the_crdt_and_metrics_libraries_only_when_used(tmp_path):
    with lean_peer(tmp_path, "lean") as (proc, ready):
        with urllib.request.urlopen(ready["gateway"] + "/metrics", timeout=30) as response:
            scraped = response.read().decode()
        proc.send_signal(signal.SIGUSR1)
        assert proc.stdout is not None
        used = json.loads(proc.stdout.readline())
        stop(proc)
    assert "peerkit_" in scraped and used["text"] == "hello"
    assert used["held"] == ["prometheus_client", "pycrdt"]  # now used, so now loaded


def test_an_idle_peer_holds_no_cli_tooling_crdt_or_metrics_library(tmp_path):
    with lean_peer(tmp_path, "idle") as (proc, _):
        assert stop(proc)["at_exit"] == []
