"""Ctrl-C stops a test run, and peerkit takes no SIGINT from the program using it.

Under pytest-asyncio every test runs in an asyncio Runner, which turns Ctrl-C into a
cancellation of the running test; a test that turns the cancellation into an error was
reported F and the run went on. peerkit's pytest plugin keeps Ctrl-C a KeyboardInterrupt; and
the transport's trio guest run no longer installs a SIGINT handler of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap

import pytest

from peerkit import Node, PeerConfig
from tests.integration.procs import REPO

pytestmark = pytest.mark.libp2p


async def test_a_started_node_leaves_sigint_to_the_program():
    # a program with Python's own Ctrl-C handling (trio takes that one over, unless told not to)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    node = Node(PeerConfig(name="ctrl-c", transport="libp2p"))
    try:
        await node.start()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        await node.stop()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(90)
async def test_ctrl_c_stops_a_pytest_run_with_a_live_node(tmp_path):
    (tmp_path / "test_wait.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from peerkit import Node, PeerConfig

            async def test_waits_for_ever():
                node = Node(PeerConfig(name="waiting", transport="libp2p"))
                await node.start()
                print("READY", flush=True)
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    # what many network calls do with a cancellation: report a failure
                    raise RuntimeError("the wait was cut short") from None

            def test_never_reached():
                pass
            """
        )
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        str(tmp_path / "test_wait.py"),
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen = b""
    while b"READY" not in seen:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line, seen.decode()
        seen += line
    proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    text = (seen + out).decode()
    assert proc.returncode == 2, text  # pytest: interrupted
    assert "KeyboardInterrupt" in text and "1 passed" not in text
