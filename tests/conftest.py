import os

import pytest

# Tests never reach beyond this machine.
os.environ.setdefault("PEERKIT_TEST", "1")


@pytest.fixture
def anyio_backend():
    return "asyncio"
