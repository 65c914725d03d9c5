"""Logs for people and machines: JSON lines carry ISO-8601 UTC timestamps; a Node used as a
library configures nothing process-wide, writes nothing to stdout and honours its level."""

import io
import json
import subprocess
import sys
from datetime import UTC, datetime

import structlog

from peerkit.log import configure_logging

LIBRARY = """
import asyncio
import structlog
from peerkit import Node, PeerConfig

async def main():
    node = Node(PeerConfig(name="lib", log_level="{level}"))
    await node.start()
    node.log.info("app.info_line")
    node.log.warning("app.warning_line")
    await node.stop()
    print("configured" if structlog.is_configured() else "untouched")

asyncio.run(main())
"""


def test_json_logs_have_iso_utc_timestamps():
    stream = io.StringIO()
    try:
        configure_logging("info", json=True, stream=stream)
        structlog.get_logger().bind(peer="p").info("node.started", detail="x" * 10)
    finally:
        configure_logging("warning")
    line = json.loads(stream.getvalue().splitlines()[-1])
    stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None and stamp.utcoffset() == UTC.utcoffset(None)
    assert line["event"] == "node.started" and line["peer"] == "p" and line["level"] == "info"


def run_library(level: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", LIBRARY.format(level=level)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_node_in_a_library_honours_its_level_and_leaves_logging_alone():
    quiet = run_library("warning")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "untouched"  # nothing but the program's own print
    assert "app.warning_line" in quiet.stderr and "app.info_line" not in quiet.stderr
    chatty = run_library("info")
    assert "app.info_line" in chatty.stderr and chatty.stdout.strip() == "untouched"
