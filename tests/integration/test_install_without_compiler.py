"""peerkit's C helpers (peerkit/_cbor_floats.c, peerkit/_envelope_calls.c) are optional: where
no C compiler works, peerkit still builds and installs, without them (peerkit/blocks.py then
applies the float rule in Python, with the same bytes, and peerkit/wire.py keeps its Python
envelope calls; tests/unit/storage/test_blocks.py and tests/unit/test_wire.py check both
paths)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_peerkit_builds_when_the_c_compiler_fails(tmp_path):
    source = tmp_path / "peerkit-src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "tests", "test-artifacts", "build", "*.so", "__pycache__"
        ),
    )
    env = {**os.environ, "CC": "false"}  # every compile fails, as with no compiler at all
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "out"), "."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "out").glob("peerkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "peerkit/blocks.py" in names
    assert not [n for n in names if n.endswith(".so")]  # the helpers were left out, not broken
