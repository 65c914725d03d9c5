"""The pytest plugin: the ``peers`` fixture and the ``--peerkit-libp2p`` option."""

from __future__ import annotations

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
