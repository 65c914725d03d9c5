"""`make demo`, the main job on a fresh machine, as the Makefile runs it: from the repository,
with sample_app imported from the checkout (it is not part of peerkit's wheel)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.procs import REPO

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]


@pytest.mark.timeout(240)
def test_the_demo_runs_to_its_end():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "sample_app.demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "demo finished in" in proc.stdout
    assert "Bob is refused" in proc.stdout and "Hello, version 2" in proc.stdout
