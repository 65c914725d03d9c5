import asyncio
import os
import tempfile

# Imported now, not by its plugin at the end of the run: on CPython 3.11.7, once a libp2p dial
# has run in this process, compiling a module that has no .pyc yet fails with "AST
# constructor recursion depth mismatch" (seen with a single test file: the run then ends in
# INTERNALERROR although every test passed).
import hypothesis  # noqa: F401
import pytest

from peerkit import Node, PeerConfig
from peerkit._transport.memory import MemoryNetwork, MemoryTransport
from peerkit.log import configure_logging

configure_logging("warning")


def pytest_configure(config):
    """No test touches the real user's peerkit home (peerkit.home): commands run outside an
    app folder (here, and in the processes the tests start) use a home of the run's own."""
    if "PEERKIT_HOME" not in os.environ:
        os.environ["PEERKIT_HOME"] = tempfile.mkdtemp(prefix="peerkit-test-home-")


TRANSPORTS = ["memory", pytest.param("libp2p", marks=pytest.mark.libp2p)]


@pytest.fixture
async def make_nodes():
    """``await make_nodes(n, kind)``: n started nodes, each dialled to the first; stopped after."""
    started: list[Node] = []

    async def make(n: int, kind: str = "memory", *, actors=(), star: bool = True, **cfg):
        network = MemoryNetwork()
        nodes = []
        for i in range(n):
            config = PeerConfig(name=f"n{i}", transport=kind, **cfg)
            transport = None
            if kind == "memory":
                transport = MemoryTransport(
                    name=f"n{i}", network=network, max_frame=config.max_frame_size
                )
            node = Node(config, transport=transport)
            for actor in actors:
                node.spawn(actor)
            await node.start()
            started.append(node)
            nodes.append(node)
        if star:
            for node in nodes[1:]:
                await node.connect(nodes[0].addrs()[0])
        return nodes

    yield make
    for node in reversed(started):
        await node.stop()


async def events_on_every_node(nodes, count: int, timeout: float = 60.0) -> list:
    """Wait until each node's EchoActor (tests.messages) holds ``count`` events; the actors."""
    actors = [n.supervisor.instance(n.actor("EchoActor")) for n in nodes]
    await wait_for(
        lambda: all(len(x.events) >= count for x in actors),
        timeout=timeout,
        what=f"{count:,} events on each of {len(nodes)} peers",
    )
    return actors


async def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    """Wait until ``predicate()`` holds, checking on every loop turn; fail with a clear message."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.002)
