"""A new app installs with the command its README gives, in a clean virtual environment with
nothing but Python (peerkit is not on PyPI yet: the app depends on the peerkit it was made
with), and its generated tests pass there."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.processes


@pytest.mark.timeout(900)
def test_a_new_app_installs_from_scratch_and_its_tests_pass(tmp_path):
    made = subprocess.run(
        [sys.executable, "-m", "peerkit", "new", "my-shop"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    app = tmp_path / "my-shop"
    readme = (app / "README.md").read_text()
    assert "python -m pip install -e '.[dev]'" in readme  # the command we run below
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    t0 = time.perf_counter()
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", ".[dev]"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    took = time.perf_counter() - t0
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout
    print(f"\nnew app: installed in a clean venv in {took:.0f} s; {tests.stdout.splitlines()[-1]}")
