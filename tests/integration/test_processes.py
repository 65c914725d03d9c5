"""Peers as separate processes talking over real py-libp2p on 127.0.0.1."""

import asyncio
import socket

import pytest
import trio

from peerkit import HandlerFailed, Node, PeerConfig, PeerDisconnected
from tests.integration.procs import PeerProcess
from tests.messages import Count, Crash, Echo, Hold, Posted

pytestmark = [pytest.mark.libp2p, pytest.mark.processes]

ECHO = "tests.messages:EchoActor"


@pytest.fixture
async def procs(tmp_path):
    started: list[PeerProcess] = []

    async def start(name, **kw):
        p = await PeerProcess(tmp_path, name, **kw).start()
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        await p.wait_killed()


@pytest.fixture
async def client():
    node = Node(PeerConfig(name="client"))
    node.spawn(_client_actor())
    await node.start()
    yield node
    await node.stop()


def _client_actor():
    from tests.messages import EchoActor

    return EchoActor


async def test_request_reply_and_clean_shutdown(procs, client):
    alice = await procs("alice", services=[ECHO])
    await client.connect(alice.addr)
    reply = await client.request(alice.peer_id, Echo(text="hi"))
    assert reply.text == "hi" and reply.sender == client.peer_id
    code = await alice.terminate()
    err = alice.stderr.decode()
    assert code == 0, err
    for bad in ("Traceback", "RuntimeWarning", "never awaited", "Task was destroyed", "ERROR"):
        assert bad not in err, err


async def test_peers_bootstrap_to_each_other_and_talk(procs, client):
    alice = await procs("alice", services=[ECHO])
    bob = await procs("bob", services=[ECHO], bootstrap=[alice.addr])
    await client.connect(bob.addr)
    # bob's services can reach alice through the connection bob dialled itself
    reply = await client.request(bob.peer_id, Echo(text="via bob"))
    assert reply.text == "via bob"


async def test_pubsub_burst_of_1000_reaches_three_processes(procs, client):
    peers = [await procs(n, services=[ECHO]) for n in ("p1", "p2", "p3")]
    for p in peers:
        await client.connect(p.addr)
    await client.wait_for_subscribers(Posted, 3)
    for i in range(1000):
        await client.publish(Posted(n=i))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    for p in peers:
        while (await client.request(p.peer_id, Count())).events < 1000:
            assert loop.time() < deadline, f"{p.name} did not get all 1,000 events"
            await asyncio.sleep(0.05)
        assert (await client.request(p.peer_id, Count())).events == 1000


async def test_handler_crash_is_a_typed_error_and_the_peer_keeps_serving(procs, client):
    alice = await procs("alice", services=[ECHO])
    await client.connect(alice.addr)
    for _ in range(3):
        with pytest.raises(HandlerFailed, match="deliberate crash"):
            await client.request(alice.peer_id, Crash())
        assert (await client.request(alice.peer_id, Echo(text="ok"))).text == "ok"


async def test_peer_killed_mid_request_gives_typed_error_at_once(procs, client):
    alice = await procs("alice", services=[ECHO])
    await client.connect(alice.addr)
    await client.request(alice.peer_id, Echo(text="warm up"))
    pending = asyncio.ensure_future(client.request(alice.peer_id, Hold(seconds=60), timeout=30))
    await _until(lambda: client.router.messages_out["test.Hold"] == 1, "the request to be sent")
    alice.kill()  # while alice holds the request (or has it in flight to her)
    with pytest.raises(PeerDisconnected):
        await pending


async def test_plaintext_only_dialer_is_refused(procs):
    alice = await procs("alice", services=[ECHO])
    outcome = await asyncio.to_thread(trio.run, _dial_with_plaintext_only, alice.addr)
    assert outcome == "refused", outcome


async def _dial_with_plaintext_only(addr: str) -> str:
    import multiaddr
    from libp2p import create_yamux_muxer_option, new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

    kp = create_new_key_pair()
    host = new_host(
        key_pair=kp,
        sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(kp)},
        muxer_opt=create_yamux_muxer_option(),
    )
    async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            with trio.fail_after(10):
                await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(addr)))
        except Exception:
            return "refused"
        return "connected"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_bootstrap_peer_is_redialled_when_it_comes_back(tmp_path):
    from peerkit.identity import load_or_create_identity

    port = _free_port()
    seed = load_or_create_identity(tmp_path / "a.key")
    listen = [f"/ip4/127.0.0.1/tcp/{port}"]
    a = Node(PeerConfig(name="a", listen=listen), seed=seed)
    await a.start()
    b = Node(PeerConfig(name="b", bootstrap=[a.addrs()[0]]))
    await b.start()
    try:
        await _until(lambda: a.peer_id in b.peers(), "b to dial its bootstrap peer")
        await a.stop()
        await _until(lambda: a.peer_id not in b.peers(), "b to notice a is gone")
        a2 = Node(PeerConfig(name="a", listen=listen), seed=seed)
        await a2.start()
        try:
            await _until(lambda: a2.peer_id in b.peers(), "b to redial a", timeout=20)
        finally:
            await a2.stop()
    finally:
        await b.stop()


async def _until(pred, what, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
