"""The app's services over HTTP+JSON: the second surface of one schema.

    POST /api/{service}/{handler}   a request (JSON body) -> its reply (JSON)
    GET  /api/{service}/events      the service's events as Server-Sent Events
    GET  /api/openapi.json          the OpenAPI 3.1 document (from the generated JSON Schemas)

Same types, same validation (the body is decoded into the request type by msgspec, so a bad
field gets the ValidationFailed it gets over libp2p, naming the field), same typed errors (as
JSON ``{"error", "message", "hint"}`` with an HTTP status), same handlers. A call acts as the
peer's local user: it reaches the handler as ``node.request(node.peer_id, ...)`` does, so the
gateway's trust rule applies (loopback, or the gateway token off loopback). A caller without
the token reaches only handlers that require a capability, and only with a Multiauth
invocation in ``X-Peerkit-Auth`` that the peer's guard accepts (as over libp2p); otherwise 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec
from aiohttp import web

from .. import __version__
from ..actor import Context
from ..auth.errors import AuthError, AuthMissing
from ..auth.guard import unpack
from ..auth.principals import peer_for_did
from ..bounds import decode_within_c_stack
from ..errors import NoHandler, Refused, ValidationFailed
from ..messages import Event, Message, Request, tag_of
from ..router import Ack
from ..service import Service
from ..wire import check_nesting
from .app import is_trusted
from .openapi import Operation, build_openapi, load_schema

if TYPE_CHECKING:
    from ..node import Node

#: bytes of a request body (the peer's frame limit applies to the same message over libp2p)
MAX_BODY = 1024 * 1024
#: events waiting for a slow event-stream reader before the stream is closed
MAX_QUEUED_EVENTS = 1000
#: a comment line keeps idle event streams open through proxies
KEEPALIVE_SECONDS = 15.0
#: the header a caller without the gateway token proves a capability with
AUTH_HEADER = "X-Peerkit-Auth"


class Endpoint(NamedTuple):
    service: str
    handler: str
    msg_type: type[Request]
    reply_type: type[Message] | None
    schema_file: Path | None


class ServiceApi:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._endpoints: dict[tuple[str, str], Endpoint] | None = None
        self._events: dict[str, list[type[Event]]] = {}
        self._streams: set[asyncio.Queue[bytes | None]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.on_shutdown.append(self._end_streams)
        app.router.add_get("/api/openapi.json", self.openapi)
        app.router.add_get("/api/names/{name}/watch", self.watch_name)
        app.router.add_get("/api/{service}/events", self.events)
        app.router.add_post("/api/{service}/{handler}", self.call)

    # --- what is served -----------------------------------------------------------------

    def endpoints(self) -> dict[tuple[str, str], Endpoint]:
        """Every request handled by a schema's service on this peer (built once, at the first
        HTTP request: services are spawned before the node starts)."""
        if self._endpoints is None:
            found: dict[tuple[str, str], Endpoint] = {}
            events: dict[str, list[type[Event]]] = {}
            for route in self.node.router.routes():
                actor_type = route.actors[0].actor_type
                if not issubclass(actor_type, Service) or not actor_type.service_name:
                    continue
                service = actor_type.service_name
                spec = actor_type._handlers.get(route.msg_type)
                if spec is None:
                    continue
                if issubclass(route.msg_type, Event):
                    events.setdefault(service, []).append(route.msg_type)
                elif issubclass(route.msg_type, Request):
                    reply = getattr(route.msg_type, "__peerkit_reply__", None)
                    if isinstance(reply, str):
                        reply = self.node.router.registry.get(reply)
                    found[(service, spec.method)] = Endpoint(
                        service, spec.method, route.msg_type, reply, _schema_file(actor_type)
                    )
            self._endpoints, self._events = found, events
        return self._endpoints

    # --- handlers -------------------------------------------------------------------------

    async def call(self, request: web.Request) -> web.Response:
        delegated = request.headers.get(AUTH_HEADER)
        if delegated is None:
            _need_trust(request)
        service, handler = request.match_info["service"], request.match_info["handler"]
        endpoint = self.endpoints().get((service, handler))
        if endpoint is None:
            known = sorted(f"{s}/{h}" for s, h in self.endpoints())
            raise NoHandler(
                f"no handler {service}/{handler} on this peer",
                hint=f"it serves: {', '.join(known) or 'no services'}",
            )
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise ValidationFailed(f"the body is larger than {MAX_BODY} bytes")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise ValidationFailed(f"the body is larger than {MAX_BODY} bytes")
        msg = decode_json(endpoint.msg_type, body or b"{}")
        if delegated is not None and not is_trusted(request):
            reply = await self._delegated(msg, delegated)
        else:
            reply = await self.node.request(self.node.peer_id, msg)
        if reply is None:
            reply = Ack()
        return web.Response(body=msgspec.json.encode(reply), content_type="application/json")

    async def _delegated(self, msg: Request, header: str) -> Any:
        """A stranger's call carrying a Multiauth invocation (``X-Peerkit-Auth``: base64 of
        ``node.auth.authorization(...)``): checked by the same guard as over libp2p, for
        handlers that require a capability; the handler sees the invoker as the sender."""
        router = self.node.router
        route = router.match(tag_of(type(msg)))
        if route is None or route.requires is None:
            raise Refused(
                f"{tag_of(type(msg))} takes no delegation; over HTTP it is for this peer's user",
                hint="call it with the gateway token, or through libp2p",
            )
        if router.guard is None:
            raise AuthError("this peer cannot check delegations (its auth family is off)")
        try:
            container = base64.b64decode(header, validate=True)
        except (ValueError, binascii.Error):
            raise AuthError(f"{AUTH_HEADER} is not base64") from None
        # No transport vouches for an HTTP caller: the invocation's own signature names it.
        router.guard.check(container, msg, "", route.requires)
        invoker = peer_for_did(unpack(container)[0].iss)  # the invocation: checked above
        return await route.actors[0].ask(
            msg, timeout=self.node.config.request_timeout, ctx=Context(sender=invoker)
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        _need_trust(request)
        service = request.match_info["service"]
        self.endpoints()
        types = tuple(self._events.get(service, ()))
        if not types:
            raise NoHandler(f"the service {service!r} handles no events on this peer")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def listener(msg: Message, ctx: Context) -> None:
            if isinstance(msg, types):
                if queue.qsize() >= MAX_QUEUED_EVENTS:
                    # too slow a reader: end its stream (once; it stops listening at once)
                    with contextlib.suppress(ValueError):
                        self.node.router.event_listeners.remove(listener)
                    queue.put_nowait(None)
                    return
                data = msgspec.json.encode(msg)
                queue.put_nowait(
                    f"event: {tag_of(type(msg))}\n".encode() + b"data: " + data + b"\n\n"
                )

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await response.write(b": connected\n\n")  # the client knows it is subscribed
        self.node.router.event_listeners.append(listener)
        self._streams.add(queue)
        try:
            await self._pump(queue, response)
        finally:
            self._streams.discard(queue)
            with contextlib.suppress(ValueError):
                self.node.router.event_listeners.remove(listener)
        return response

    async def watch_name(self, request: web.Request) -> web.StreamResponse:
        """A name's head record held now, then each new one as it arrives (Server-Sent Events
        ``event: record``, data ``{"name", "sequence", "value"}``): what a page needs to show
        the latest version. The current head first, because a page reads the name before it
        opens this stream, and a browser reopens a dropped stream by itself: what was
        published meanwhile comes as that first event instead of never."""
        _need_trust(request)
        name = request.match_info["name"]
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def follow() -> None:
            async for record in self.node.naming.watch(name, current=True):
                data = msgspec.json.encode(
                    {
                        "name": name,
                        "sequence": record.sequence,
                        "value": record.value.decode("utf-8", "replace"),
                    }
                )
                if queue.qsize() >= MAX_QUEUED_EVENTS:
                    queue.put_nowait(None)
                    return
                queue.put_nowait(b"event: record\ndata: " + data + b"\n\n")

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await response.write(b": watching\n\n")
        follower = asyncio.ensure_future(follow())
        self._streams.add(queue)
        try:
            await self._pump(queue, response)
        finally:
            self._streams.discard(queue)
            follower.cancel()
        return response

    async def _pump(self, queue: asyncio.Queue[bytes | None], response: web.StreamResponse) -> None:
        """Write what arrives (and a keepalive comment when nothing does) until the stream is
        ended or the reader has gone."""
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    item = b": keepalive\n\n"
                if item is None:
                    return
                await response.write(item)
        except (ConnectionResetError, asyncio.CancelledError):
            return

    async def _end_streams(self, app: web.Application) -> None:
        """The gateway is stopping: end every event stream now (they wait on events)."""
        for queue in list(self._streams):
            queue.put_nowait(None)

    async def openapi(self, request: web.Request) -> web.Response:
        schemas: dict[str, dict[str, Any]] = {}
        operations: list[Operation] = []
        for endpoint in sorted(self.endpoints().values(), key=lambda e: (e.service, e.handler)):
            if endpoint.schema_file is None or not endpoint.schema_file.exists():
                continue
            if endpoint.service not in schemas:
                schemas[endpoint.service] = load_schema(endpoint.schema_file)
            operations.append(
                Operation(
                    endpoint.service,
                    endpoint.handler,
                    endpoint.msg_type.__name__,
                    endpoint.reply_type.__name__ if endpoint.reply_type else None,
                )
            )
        for service in sorted(self._events):
            if service in schemas:
                operations.append(Operation(service, "events", "", None, events=True))
        title = f"{self.node.config.name}: peerkit services"
        return web.json_response(build_openapi(title, __version__, schemas, operations))


_json_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def decode_json(msg_type: type[Request], body: bytes) -> Request:
    """The body as ``msg_type``, validated as the wire validates (ValidationFailed naming the
    field, with the same text as over libp2p)."""
    tag = tag_of(msg_type)
    decoder = _json_decoders.get(msg_type)
    if decoder is None:
        decoder = _json_decoders[msg_type] = msgspec.json.Decoder(msg_type)
    try:
        msg = decode_within_c_stack(decoder.decode, body)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{tag}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"{tag}: the body is not JSON: {exc}") from None
    except RecursionError:
        raise ValidationFailed(f"{tag}: the body nests too deeply") from None
    check_nesting(tag, msg)  # the wire's bound on Any fields, the same on HTTP
    return msg


def _need_trust(request: web.Request) -> None:
    if not is_trusted(request):
        raise AuthMissing(
            "the HTTP API acts as this peer's local user: off loopback it needs"
            " 'Authorization: Bearer <token>'",
            hint="the token is in the peer's gateway.token file",
        )


def _schema_file(actor_type: type[Service]) -> Path | None:
    """``{service}.schema.json`` beside the generated module that declares the service."""
    for cls in actor_type.__mro__:
        if cls.__dict__.get("service_name"):
            module = sys.modules.get(cls.__module__)
            file = getattr(module, "__file__", None)
            if file:
                return Path(file).with_name(f"{cls.__dict__['service_name']}.schema.json")
    return None


__all__ = ["ServiceApi", "decode_json"]
