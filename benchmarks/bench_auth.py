"""Multiauth figures against baselines measured in the same run.

- checking an invocation with a 2-link chain (wallet-issued leaf, key-issued root), as the
  router's interceptor does it (container unpack, parse, 3 signatures, rules, replay cache),
  vs the bare signature checks alone (2 libsodium Ed25519 verifies + 1 EIP-191 recovery over
  the same bytes): how much our parsing and rules add to the cryptography
- an authorized request round trip between two libp2p peers vs the same request without
  authorization (what the interceptor costs end to end)
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, load, paired, report

from peerkit import Context, Message, Node, PeerConfig, Request, Service, handler
from peerkit.auth import chain, tokens
from peerkit.auth.guard import Guard, Requires, digest, pack
from peerkit.auth.principals import Ed25519Signer, WalletSigner, verify
from peerkit.auth.tokens import Capability, delegate, invoke
from peerkit.log import configure_logging
from peerkit.naming.keys import EthereumWallet

OWNER = Ed25519Signer.from_seed(b"\x01" * 32)
WALLET = WalletSigner(EthereumWallet(b"\x02" * 32))
APP = Ed25519Signer.from_seed(b"\x03" * 32)
BOB = Ed25519Signer.from_seed(b"\x04" * 32)
CAP = Capability("bench:thing", "bench/do")
N = 1000


class Do(Request, tag="bench.auth.Do"):
    thing: str


class Done(Message, tag="bench.auth.Done"):
    pass


class Doer(Service):
    @handler(requires=Requires("bench/do", on="bench:{thing}"))
    async def do(self, msg: Do, ctx: Context) -> None:
        return None


class OpenDoer(Service):
    @handler(handles=None)
    async def do(self, msg: Do, ctx: Context) -> None:
        return None


ROOT = delegate(
    OWNER, audience=WALLET.did, caps=[Capability("bench:*", "bench/*")], expires_in=86400
)
LEAF = delegate(WALLET, audience=APP.did, caps=[CAP], expires_in=86400, proofs=[ROOT])
MSG = Do(thing="thing")


def containers() -> list[bytes]:
    return [
        pack(
            [
                invoke(
                    APP,
                    audience=BOB.did,
                    cmd="bench.auth.Do",
                    capability=CAP,
                    args=digest(MSG),
                    proof=LEAF,
                ),
                LEAF,
                ROOT,
            ]
        )
        for _ in range(N)
    ]


def ours(cold: bool = False) -> float:
    """Warm: the chain's delegations were seen before (parsed and verified once, cached by
    CID), as for an app node invoking again and again. Cold: nothing cached."""
    items = containers()
    guard = Guard(BOB.did)
    need = Requires("bench/do", on="bench:{thing}")
    with Timer() as t:
        for c in items:
            if cold:
                tokens._parsed.clear()
                chain._verified.clear()
            guard.check(c, MSG, "mem-sender", need)
    return N / t.elapsed


INV = invoke(
    APP, audience=BOB.did, cmd="bench.auth.Do", capability=CAP, args=digest(MSG), proof=LEAF
)


def base() -> float:
    with Timer() as t:
        for _ in range(N):
            verify(INV.iss, INV.alg, INV.signed, INV.sig)
            verify(LEAF.iss, LEAF.alg, LEAF.signed, LEAF.sig)
            verify(ROOT.iss, ROOT.alg, ROOT.signed, ROOT.sig)
    return N / t.elapsed


async def round_trips(authorized: bool) -> float:
    server = Node(PeerConfig(name="server", transport="libp2p"))
    client = Node(PeerConfig(name="client", transport="libp2p"))
    server.spawn(Doer if authorized else OpenDoer)
    await server.start()
    await client.start()
    try:
        await client.connect(server.addrs()[0])
        root = delegate(
            OWNER, audience=WALLET.did, caps=[Capability("bench:*", "bench/*")], expires_in=3600
        )
        leaf = delegate(
            WALLET, audience=client.auth.did, caps=[CAP], expires_in=3600, proofs=[root]
        )
        client.auth.remember(root)
        n = 300
        t0 = time.perf_counter()
        for _ in range(n):
            if authorized:
                await client.auth.request(server.peer_id, MSG, leaf)
            else:
                await client.request(server.peer_id, MSG)
        return n / (time.perf_counter() - t0)
    finally:
        await client.stop()
        await server.stop()


def main() -> None:
    configure_logging("warning")
    print(f"# auth benchmarks ({load()})")
    a, b = paired(5, lambda: ours(cold=True), base)
    report("invocation + 2-link chain check, cold", a, b, "checks/s", ">= 0.5x bare signatures")
    a, b = paired(5, ours, base)
    report("invocation + 2-link chain check, warm", a, b, "checks/s", "(chain cached by CID)")
    a, b = paired(
        3, lambda: asyncio.run(round_trips(True)), lambda: asyncio.run(round_trips(False))
    )
    report("authorized request over libp2p", a, b, "req/s", "cost of the interceptor, shown")


if __name__ == "__main__":
    main()
