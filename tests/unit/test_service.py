"""Services: dependency injection, middleware, validation in and out, typed stubs."""

from typing import Annotated

import msgspec
import pytest

from peerkit import (
    ConfigError,
    Context,
    HandlerFailed,
    Message,
    NotImplementedHandler,
    PeerConfig,
    PeerkitError,
    Request,
    Service,
    ValidationFailed,
    handler,
)
from peerkit.storage.client import StorageClient
from peerkit.testing import FakeNode, make_actor


class Echoed(Message, tag="test.svc.Echoed"):
    text: Annotated[str, msgspec.Meta(max_length=8)]


class Echo(Request, tag="test.svc.Echo", reply=Echoed):
    text: Annotated[str, msgspec.Meta(min_length=1)]


class Wrong(Request, tag="test.svc.Wrong", reply=Echoed):
    pass


calls: list[str] = []


async def outer(service, msg, ctx, call_next):
    calls.append("outer>")
    result = await call_next(msg, ctx)
    calls.append("<outer")
    return result


async def inner(service, msg, ctx, call_next):
    calls.append("inner>")
    result = await call_next(msg, ctx)
    calls.append("<inner")
    return result


class EchoService(Service):
    middleware = [outer, inner]

    def __init__(self, config: PeerConfig, storage: StorageClient) -> None:
        self.config = config
        self.storage = storage

    @handler
    async def echo(self, msg: Echo, ctx: Context) -> Echoed:
        calls.append("handler")
        return Echoed(text=msg.text)

    @handler
    async def wrong(self, msg: Wrong) -> Echoed:
        return Wrong()  # type: ignore[return-value]


async def test_dependencies_are_injected_by_the_node(peers):
    (node,) = await peers(1, services=[EchoService])
    service = peers.set.actor(node, "EchoService")
    assert service.config is node.config
    assert isinstance(service.storage, StorageClient)


async def test_middleware_wraps_handlers_outermost_first(peers):
    server, client = await peers(2, services=[EchoService])
    calls.clear()
    assert await client.request(server.peer_id, Echo(text="hi")) == Echoed(text="hi")
    assert calls == ["outer>", "inner>", "handler", "<inner", "<outer"]


async def test_bad_input_and_bad_replies_are_typed_errors(peers):
    server, client = await peers(2, services=[EchoService])
    calls.clear()
    with pytest.raises(ValidationFailed, match=r"\$\.text"):
        await client.request(server.peer_id, Echo(text=""))
    with pytest.raises(ValidationFailed, match=r"\$\.text"):  # local requests are checked too
        await server.request(server.peer_id, Echo(text=""))
    assert "handler" not in calls
    with pytest.raises(HandlerFailed, match=r"invalid reply: Echoed: .*\$\.text"):
        await client.request(server.peer_id, Echo(text="much too long"))
    with pytest.raises(HandlerFailed, match="returned Wrong, expected Echoed"):
        await server.request(server.peer_id, Wrong())
    # the service is still there and answering
    assert await client.request(server.peer_id, Echo(text="ok")) == Echoed(text="ok")


def test_a_dependency_peerkit_cannot_provide_is_a_config_error():
    class Needy(Service):
        def __init__(self, database) -> None:
            self.database = database

    with pytest.raises(ConfigError, match="asks for 'database'") as info:
        Needy.factory(lambda name: None)
    assert "storage" in (info.value.hint or "")


async def test_make_actor_takes_fakes_for_dependencies():
    service = make_actor(EchoService, node=FakeNode(), storage="fake storage")
    assert service.storage == "fake storage"
    assert service.config.name == "fake"  # from FakeNode.config
    assert (await service.echo(Echo(text="x"), Context())).text == "x"
    with pytest.raises(PeerkitError, match="needs 'storage'") as info:
        make_actor(EchoService, node=FakeNode())
    assert "make_actor(EchoService, storage=...)" in (info.value.hint or "")


class Stubbed(Service):
    @handler
    async def echo(self, msg: Echo, ctx: Context) -> Echoed:
        raise self.not_implemented(msg)


async def test_a_stub_answers_not_implemented_across_the_wire(peers):
    server, client = await peers(2, services=[Stubbed])
    with pytest.raises(NotImplementedHandler, match="Stubbed has no handler body for Echo"):
        await client.request(server.peer_id, Echo(text="x"))
