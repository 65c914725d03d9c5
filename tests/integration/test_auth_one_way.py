"""One authorization rule for every way into a handler: requests and one-way events alike.

Every built-in handler declared with ``requires=`` is tried one-way with no delegation, and
nothing it would do takes effect; a request type is never run one-way, even with a valid
delegation; an event type guarded by ``requires=`` runs one-way only with a delegation.
"""

from __future__ import annotations

import pytest

from peerkit import Actor, Context, Message, handler
from peerkit.auth.guard import Requires
from peerkit.auth.principals import WalletSigner
from peerkit.auth.tokens import Capability
from peerkit.blocks import make_block
from peerkit.config import AuthConfig
from peerkit.errors import UsageError
from peerkit.naming.keys import EthereumWallet
from peerkit.naming.messages import Republish
from peerkit.storage.messages import (
    BlockData,
    FetchDag,
    PinAdd,
    PinRm,
    PutBlocks,
    PutDocument,
    RunGC,
)
from peerkit.testing import refused_one_way, wait_for
from tests.conftest import TRANSPORTS

BLOCK = make_block({"written": "by a stranger"})
ROOT = make_block({"kept": True})

# one example per guarded built-in type; the test fails when a new guarded handler has none
EXAMPLES = {
    "storage.PutDocument": PutDocument(document={"@type": "Thing", "name": "x"}, pin="stranger"),
    "storage.PutBlocks": PutBlocks(blocks=[BlockData(BLOCK.cid.cid_bytes, BLOCK.data)], pin="x"),
    "storage.PinAdd": PinAdd(name="stranger", root=ROOT.cid.cid_bytes),
    "storage.PinRm": PinRm(name="mine"),
    "storage.RunGC": RunGC(),
    "storage.FetchDag": FetchDag(root=BLOCK.cid.cid_bytes, pin="stranger"),
    "naming.Republish": Republish(
        name="k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", record=b"\x00"
    ),
}


class Note(Message, tag="test.GuardedNote"):
    text: str


WRITTEN: list[str] = []


class Notebook(Actor):
    @handler(requires=Requires("notes/write", on="notes:book", trusted=True))
    async def write(self, msg: Note, ctx: Context) -> None:
        WRITTEN.append(msg.text)


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_every_guarded_builtin_refuses_one_way_delivery(make_nodes, kind):
    server, stranger = await make_nodes(2, kind)
    await server.storage.put_blocks([ROOT])
    mine = await server.storage.put({"kept": True})
    await server.storage.pin("mine", mine)
    guarded = {r.tag for r in server.router.routes() if r.requires is not None}
    assert guarded <= set(EXAMPLES), f"add an example for {sorted(guarded - set(EXAMPLES))}"
    for tag in sorted(guarded):
        await refused_one_way(stranger, server, EXAMPLES[tag])
    pins = [p.name for p in await server.storage.pins()]
    assert pins == ["mine"]  # no pin added, none removed
    assert not server.storage.has(BLOCK.cid)  # no block written
    assert server.router.guard.accepted == 0


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_request_type_is_never_run_one_way(make_nodes, kind):
    operator = WalletSigner(EthereumWallet(b"\xb2" * 32))
    server, app = await make_nodes(2, kind, auth=AuthConfig(trusted=[operator.did]))
    await server.storage.pin("mine", await server.storage.put({"kept": True}))
    grant = app.auth.delegate(
        app.auth.did, [Capability("pin:*", "storage/unpin")], signer=operator, expires_in=60
    )
    with pytest.raises(UsageError, match="is a request"):
        await app.auth.send(server.peer_id, PinRm(name="mine"), grant)
    auth = app.auth.authorization(server.peer_id, PinRm(name="mine"), grant)
    await refused_one_way(app, server, PinRm(name="mine"), auth=auth)
    assert [p.name for p in await server.storage.pins()] == ["mine"]


@pytest.mark.parametrize("kind", TRANSPORTS)
async def test_a_guarded_one_way_message_needs_its_delegation(make_nodes, kind):
    operator = WalletSigner(EthereumWallet(b"\xb4" * 32))
    server, app = await make_nodes(
        2, kind, actors=[Notebook], auth=AuthConfig(trusted=[operator.did])
    )
    WRITTEN.clear()
    await refused_one_way(app, server, Note(text="unsigned"))
    stranger = WalletSigner(EthereumWallet(b"\xb5" * 32))
    untrusted = app.auth.delegate(
        app.auth.did, [Capability("notes:book", "notes/write")], signer=stranger, expires_in=60
    )
    auth = app.auth.authorization(server.peer_id, Note(text="forged"), untrusted)
    await refused_one_way(app, server, Note(text="forged"), auth=auth)
    grant = app.auth.delegate(
        app.auth.did, [Capability("notes:book", "notes/write")], signer=operator, expires_in=60
    )
    await app.auth.send(server.peer_id, Note(text="signed"), grant)
    await wait_for(lambda: WRITTEN == ["signed"], what="the signed note to be written")
    assert server.router.guard.refused == 2
