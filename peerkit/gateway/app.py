"""Health, metrics, introspection and content over HTTP: what a person, a browser or a
cluster looks at.

On loopback (the default) it is open; on any other host everything but /health/* and content
needs a bearer token (``gateway.token_file``): peers, actors and metrics describe the peer to
anyone who can reach the port. Content (/ipfs, /ipns, /: content.py) is open, but without the
token only public content is served.

    /health/live    200 while the process serves HTTP
    /health/ready   200 once the node has started (and reached a bootstrap peer, if it has any)
    /metrics        Prometheus exposition (metrics.py): connections by direction and kind,
                    request latency and errors by type, mailboxes, restarts, the store, process
    /peers          connected peers, each "direct" or "relayed" (JSON)
    /actors         actors with their mailbox depths and counters (JSON)
    /status         everything a dashboard needs in one JSON document
    /ipfs/, /ipns/  content, as the IPFS HTTP gateway specs say (content.py)

The app lives in the node's lifecycle (AppRunner + TCPSite), not in aiohttp's own loop runner.
This is the one place peerkit errors become HTTP statuses.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import ConfigError, PeerkitError
from ..private_files import make_private, private_dir, write_private

if TYPE_CHECKING:
    from ..node import Node

NODE: web.AppKey[Node] = web.AppKey("node")
#: whether a request is the owner's (loopback, or the gateway token): see is_trusted
TRUSTED: Any = web.RequestKey("trusted", bool) if hasattr(web, "RequestKey") else "trusted"
TOKEN: web.AppKey[str] = web.AppKey("token")
#: the node's Prometheus registry (read at every scrape)
REGISTRY: web.AppKey[list[Any]] = web.AppKey("registry")
#: paths served without a token: what a probe or load balancer needs, nothing about the peer
OPEN_PATHS = frozenset({"/health/live", "/health/ready"})


def build_app(node: Node, token: str = "") -> web.Application:
    """The gateway's app; with ``token``, every path but /health/* needs it as a bearer."""
    app = web.Application(middlewares=[_errors, _bearer_token])
    app[NODE] = node
    app[TOKEN] = token
    # prometheus_client (~1 MB resident) loads at the first scrape, not with every gateway
    app[REGISTRY] = []  # the node's registry, once built
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/peers", peers)
    app.router.add_get("/actors", actors)
    app.router.add_get("/status", status)
    from .api import ServiceApi
    from .pages import add_pages

    ServiceApi(node).add_routes(app)
    add_pages(app, node.config)
    if node.has("storage"):
        from .content import ContentGateway

        ContentGateway(node).add_routes(app)
    return app


def http_status(exc: PeerkitError) -> int:
    """The one table from errors to HTTP statuses (the first matching class wins)."""
    from ..auth.errors import AuthError, AuthMissing
    from ..errors import (
        ConfigError,
        NoHandler,
        NotImplementedHandler,
        PeerBusy,
        Refused,
        RequestTimeout,
        TransportError,
        UsageError,
        ValidationFailed,
    )
    from ..storage.errors import BlockError, BlockNotFound, InvalidCID, LimitExceeded, NotPinned
    from ..storage.unixfs import NoSuchPath, NotUnixFS
    from .formats import Unsatisfiable

    table: list[tuple[type[PeerkitError], int]] = [
        (AuthMissing, 401),
        (NoSuchPath, 404),
        (NoHandler, 404),
        (NotImplementedHandler, 501),
        (NotUnixFS, 400),
        (Unsatisfiable, 416),
        (LimitExceeded, 413),
        (AuthError, 403),
        (Refused, 403),
        (BlockNotFound, 404),
        (NotPinned, 404),
        (PeerBusy, 503),
        (RequestTimeout, 504),
        (TransportError, 502),  # a peer we needed could not be reached
        (ValidationFailed, 400),
        (UsageError, 400),
        (InvalidCID, 400),
        (BlockError, 400),  # content that does not decode as what it claims to be
        (ConfigError, 400),
    ]
    for cls, status in table:
        if isinstance(exc, cls):
            return status
    return 500


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except PeerkitError as exc:
        body = {"error": exc.code, "message": str(exc)}
        if exc.hint:
            body["hint"] = exc.hint
        return web.json_response(body, status=http_status(exc))


def is_trusted(request: web.Request) -> bool:
    """The request is the owner's: on loopback, or carrying the gateway token."""
    return bool(request.get(TRUSTED, True))


def decides_trust_itself(path: str) -> bool:
    """Paths whose handlers read ``is_trusted(request)`` themselves: content serves strangers
    public content only; the API answers them 401, saying what it needs."""
    return path == "/" or path.startswith(("/ipfs/", "/ipns/", "/api/"))


@web.middleware
async def _bearer_token(request: web.Request, handler: Any) -> web.StreamResponse:
    token = request.app[TOKEN]
    trusted = True
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        trusted = scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())
    request[TRUSTED] = trusted
    if not trusted and request.path not in OPEN_PATHS and not decides_trust_itself(request.path):
        return web.json_response(
            {
                "error": "unauthorized",
                "message": "this gateway needs 'Authorization: Bearer <token>'"
                " (the token is in the peer's gateway.token file)",
            },
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="peerkit"'},
        )
    response: web.StreamResponse = await handler(request)
    return response


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def load_or_create_token(path: Path) -> str:
    """The gateway token in ``path``, created (random, 0600) if the file is missing."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = secrets.token_urlsafe(32)
        if not path.parent.exists():
            private_dir(path.parent)
        write_private(path, token + "\n")
        return token
    if not token:
        raise ConfigError("the gateway token file is empty", path=str(path))
    make_private(path)
    return token


def is_ready(node: Node) -> bool:
    if not node.running or node.failure is not None:
        return False
    if node.config.bootstrap:
        wanted = {a.rsplit("/p2p/", 1)[-1] for a in node.config.bootstrap}
        return bool(wanted & set(node.peers()))
    return True


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def ready(request: web.Request) -> web.Response:
    ok = is_ready(request.app[NODE])
    return web.json_response({"status": "ready" if ok else "starting"}, status=200 if ok else 503)


async def peers(request: web.Request) -> web.Response:
    node = request.app[NODE]
    peers = node.peers()
    return web.json_response(
        {"peers": peers, "connections": {p: node.connection_kind(p) for p in peers}}
    )


async def actors(request: web.Request) -> web.Response:
    return web.json_response({"actors": request.app[NODE].supervisor.stats()})


async def status(request: web.Request) -> web.Response:
    return web.json_response(node_status(request.app[NODE]))


def node_status(node: Node) -> dict[str, Any]:
    stats = node.transport.stats()
    return {
        "name": node.config.name,
        "role": node.config.role,
        "peer_id": node.peer_id,
        "addrs": node.addrs(),
        "ready": is_ready(node),
        "peers": node.peers(),
        "connections": stats.get("connections", len(node.peers())),
        "relayed": sum(node.connection_kind(p) == "relayed" for p in node.peers()),
        "streams": stats.get("channels", 0),
        "restarts": sum(int(a["restarts"]) for a in node.supervisor.stats()),  # type: ignore[call-overload]
        "messages_in": sum(node.router.messages_in.values()),
        "messages_out": sum(node.router.messages_out.values()),
        "uptime_seconds": round(time.time() - getattr(node, "started_at", time.time()), 1),
        # what went wrong, all told: refused frames, caught internal errors, failed requests
        "errors": stats.get("wire_errors", 0)
        + stats.get("internal_errors", 0)
        + sum(node.router.requests.errors.values()),
    }


async def metrics(request: web.Request) -> web.Response:
    from .metrics import exposition, registry_for

    built = request.app[REGISTRY]
    if not built:
        built.append(registry_for(request.app[NODE]))
    body, content_type = exposition(built[0])
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type  # with version=0.0.4, as scrapers expect
    return response


class Gateway:
    """Starts and stops the app on the node's loop (AppRunner + TCPSite)."""

    def __init__(self, node: Node, host: str, port: int) -> None:
        self.node = node
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        token = ""
        if not is_loopback(self.host):
            cfg = self.node.config
            base = Path(cfg.source).resolve().parent if cfg.source else Path.cwd()
            token_path = base / cfg.gateway.token_file
            token = load_or_create_token(token_path)
            self.node.log.info("gateway.token_required", token_file=str(token_path))
        self._runner = web.AppRunner(build_app(self.node, token), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # With port 0 the OS picks one: read it back from the listening socket.
        server: Any = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = f"http://{self.host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
