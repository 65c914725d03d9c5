"""The pytest plugin: the ``peers`` fixture, the ``--peerkit-libp2p`` option, and Ctrl-C that
stops the run."""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .kit import PeerSet


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--peerkit-libp2p",
        action="store_true",
        help="run the `peers` fixture on real libp2p instead of in memory",
    )


def pytest_configure(config: Any) -> None:
    """Ctrl-C stops the whole run. asyncio's Runner (pytest-asyncio runs every test in one)
    takes SIGINT when it finds Python's default handler and turns it into a cancellation of the
    running test; a test whose code turns that cancellation into an error (many network calls
    do: a request cut short is a failure) is reported F and the run goes on. A handler that
    raises KeyboardInterrupt, as the default does, is not the default object, so the Runner
    leaves it in place and Ctrl-C interrupts pytest itself."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        signal.signal(signal.SIGINT, _interrupt)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@pytest.fixture
async def peers(request: Any) -> AsyncIterator[Any]:
    """``await peers(n, services=[...])``: n started, connected nodes; stopped after the test."""
    default = "libp2p" if request.config.getoption("--peerkit-libp2p") else "memory"
    peer_set = PeerSet()

    async def start(n: int = 2, **kwargs: Any) -> Any:
        kwargs.setdefault("transport", default)
        return await peer_set.start(n, **kwargs)

    start.set = peer_set  # type: ignore[attr-defined]
    yield start
    await peer_set.close()
