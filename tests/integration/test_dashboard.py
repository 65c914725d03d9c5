"""The formation dashboard renders in headless Chromium with the right peer count."""

import asyncio
import os
import re
import shutil
import subprocess
import sys

import pytest

from peerkit.formation.runner import FormationRunner
from peerkit.formation.spec import load_formation

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

FORMATION = """\
name: dash
roles:
  rendezvous: {count: 1, rendezvous_point: true, config: {log_level: warning}}
  user: {count: 2, config: {log_level: warning}}
"""


def chromium() -> str:
    """Find Chromium; install Debian's package when we may; skip (saying why) when we cannot."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(cmd, capture_output=True, timeout=600, check=False)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip(
        "headless Chromium is not installed and could not be installed here"
        " (Debian package 'chromium')"
    )


async def test_dashboard_shows_every_peer(tmp_path):
    browser = await asyncio.to_thread(chromium)
    (tmp_path / "formation.yaml").write_text(FORMATION)
    quiet = (tmp_path / "up.log").open("w")
    runner = FormationRunner(
        load_formation(tmp_path / "formation.yaml"), show_logs=False, out=quiet
    )
    running = asyncio.ensure_future(runner.up(handle_signals=False))
    try:
        ready = asyncio.ensure_future(runner.ready.wait())
        await asyncio.wait({ready, running}, return_when=asyncio.FIRST_COMPLETED)
        assert runner.ready.is_set(), "the formation failed to start"
        proc = await asyncio.create_subprocess_exec(
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            runner.dashboard_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        dom, _ = await asyncio.wait_for(proc.communicate(), 120)
        html = dom.decode()
        assert 'id="count">3<' in html, html[:2000]
        assert len(re.findall(r'<tr class="peer">', html)) == 3
        assert html.count('class="ready"') == 3
    finally:
        runner.stop()
        await running
        quiet.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
