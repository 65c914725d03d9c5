"""The CLI for people and for scripts: summaries with transfer rates on stderr, --json on the
commands that print data, tab-separated lines in pipes, no colour codes where none belong."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.processes


def peerkit(*args, cwd, **env):
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_json_for_scripts_and_summaries_for_people(tmp_path):
    (tmp_path / "peer.yaml").write_text("name: cli\n")
    (tmp_path / "data.bin").write_bytes(os.urandom(700_000))
    put = peerkit("put", "data.bin", "--pin", "data", cwd=tmp_path)
    assert put.stdout.startswith("bafybei") and "added 700.0 KB in" in put.stderr
    assert "/s)" in put.stderr and "pinned as data" in put.stderr
    cid = put.stdout.strip()
    as_json = json.loads(peerkit("put", "data.bin", "--json", cwd=tmp_path).stdout)
    assert as_json == {"cid": cid, "bytes": 700_000, "blocks": 4}
    assert json.loads(peerkit("pin", "ls", "--json", cwd=tmp_path).stdout) == [
        {"name": "data", "root": cid}
    ]
    got = peerkit("get", cid, "-o", "copy.bin", cwd=tmp_path)
    assert "wrote 700.0 KB in" in got.stderr
    exported = json.loads(
        peerkit("dag", "export", cid, "-o", "d.car", "--json", cwd=tmp_path).stdout
    )
    assert exported["blocks"] == 4 and exported["root"] == cid
    assert json.loads(peerkit("gc", "--json", cwd=tmp_path).stdout)["removed"] == 0
    # nothing here is a terminal: no escape codes anywhere, even when colour is asked against it
    for proc in (put, got):
        assert "\x1b[" not in proc.stdout + proc.stderr
    plain = peerkit("pin", "ls", cwd=tmp_path, NO_COLOR="1")
    assert plain.stdout == f"data\t{cid}\n"


def test_completion_scripts_come_from_the_parser(tmp_path):
    bash = peerkit("completion", "bash", cwd=tmp_path).stdout
    assert "peerkit" in bash and "formation" in bash and "--json" in bash
