"""The formation dashboard in headless Chromium (peerkit.testing.browser): every peer with its
id, state, connections, uptime, errors, addresses and links to its gateway; and when the
formation goes down, the page says so instead of freezing. Screenshots land in
test-artifacts/dashboard/."""

import asyncio

import pytest

from peerkit.formation.runner import FormationRunner
from peerkit.formation.spec import load_formation
from peerkit.testing.browser import Browser, find_chromium
from tests.integration.procs import REPO

pytestmark = [pytest.mark.libp2p, pytest.mark.processes, pytest.mark.browser]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"

FORMATION = """\
name: dash
roles:
  rendezvous: {count: 1, rendezvous_point: true, config: {log_level: warning}}
  user: {count: 2, config: {log_level: warning}}
"""


@pytest.mark.timeout(180)
async def test_the_dashboard_shows_every_peer_and_says_when_the_formation_is_gone(tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
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
        async with Browser.launch() as browser:
            page = await browser.new_page()
            await page.goto(runner.dashboard_url)
            await page.wait_for("document.getElementById('count').textContent === '3'")
            await page.wait_for("document.querySelectorAll('td.ready').length === 3")
            # the users connect to the rendezvous point: connections and links show up
            await page.wait_for("Number(document.getElementById('links').textContent) >= 2")
            text = await page.text("#peers")
            for p in runner.peers:
                assert p.name in text and p.peer_id[-6:] in text and p.addrs[0] in text
            assert "direct" in text
            hrefs = await page.evaluate(
                "[...document.querySelectorAll('#peers a')].map(a => a.href)"
            )
            assert {f"{p.gateway}/metrics" for p in runner.peers} <= set(hrefs)
            assert await page.text("#updated") != "never"
            await page.screenshot(ARTIFACTS / "up.png")

            runner.stop()  # the formation goes down (peerkit down does the same)
            await running
            await page.wait_for("document.body.classList.contains('gone')", timeout=10)
            assert "formation is down" in await page.text("#banner")
            assert await page.evaluate("document.querySelectorAll('td.ready').length") == 0
            await page.screenshot(ARTIFACTS / "down.png")
    finally:
        runner.stop()
        await running
        quiet.close()
