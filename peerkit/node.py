"""A Node: one peer. It composes a transport, a router and a supervisor of actors.

    async with Node(PeerConfig(name="alice")) as node:
        node.spawn(Greeter)
        reply = await node.request(bob_id, Greet(name="alice"))

Nodes are built from ``peer.yaml`` with :meth:`Node.from_config_file`; ``peerkit run`` does that.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ._transport.base import Transport
from .actor import Actor, ActorRef
from .clock import Clock, SystemClock, wait_or_sleep
from .config import PeerConfig, check_addresses, config_line, load_config
from .errors import (
    ConfigError,
    DialFailed,
    FamilyDisabled,
    PeerkitError,
    RequestTimeout,
    SupervisorEscalation,
    TransportError,
)
from .extension import BUILTIN, Extension, installable
from .identity import load_or_create_identity
from .locks import Lock
from .log import node_logger
from .messages import Event, Message, topic_of
from .router import Router
from .supervisor import Supervisor
from .wire import prepare_decoder

if TYPE_CHECKING:
    from .auth.client import AuthClient
    from .dcs.client import DcsClient
    from .gateway import Gateway
    from .naming.client import NamingClient
    from .rendezvous.client import RendezvousApi
    from .routing.client import RoutingClient
    from .storage.client import StorageClient

E = TypeVar("E", bound=Extension)


#: addresses remembered per peer, and peers remembered (node.connect by peer id)
MAX_ADDRS_PER_PEER = 16
MAX_KNOWN_PEERS = 10_000
#: a libp2p peer id as text (base58btc of a multihash: 12D3Koo... or Qm...)
_PEER_ID = re.compile(r"[1-9A-HJ-NP-Za-km-z]{44,60}")
#: the identity file of a peer run from a peer.yaml that names none
DEFAULT_IDENTITY = "identity.key"


class Node:
    def __init__(
        self,
        config: PeerConfig | None = None,
        *,
        transport: Transport | None = None,
        seed: bytes | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or PeerConfig()
        #: the node's one clock, handed to every part that reads time (peerkit.clock)
        self.clock: Clock = clock or SystemClock()
        if transport is not None and seed is not None and seed != transport.seed:
            raise ValueError("pass the identity seed to the transport, not to the node as well")
        # The identity file is read (or created) when the seed is first needed, by start() at
        # the latest: the constructor touches no file.
        self._seed = transport.seed if transport is not None else seed
        self._transport = transport
        self._transport_given = transport is not None
        self._identity_lock: Lock | None = None
        if self.config.transport == "libp2p" and transport is None:
            check_addresses(self.config)  # a code-built config: the same checks as peer.yaml
        self.log = node_logger(self.config.log_level, peer=self.config.name)
        self.router = Router(transport, log=self.log, limits=self.config.limits)
        sup = self.config.supervision
        self.supervisor = Supervisor(
            name=self.config.name,
            strategy=sup.strategy,
            max_restarts=sup.max_restarts,
            within=sup.within,
            backoff=sup.backoff,
            backoff_max=sup.backoff_max,
            log=self.log,
            on_escalate=self._escalated,
            bind=self._bind_actor,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
        )
        self._topics: set[str] = set()
        #: peer id -> addresses it can be dialled at (rendezvous records, earlier dials)
        self.known_addrs: dict[str, list[str]] = {}
        self._started = False
        self._transport_up = False
        self._stopped = asyncio.Event()
        self._bootstrap_task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        #: why the node stopped on its own (an actor tree gave up, the network side died)
        self.failure: PeerkitError | None = None
        self.router.peer_watch.watch(self._peer_changed, at_once=True)
        #: bumped whenever the announced addresses change (see ``addrs_changed_since``)
        self.addrs_version = 0
        self._addrs_event = asyncio.Event()
        self.router.addrs_listeners.append(self._addrs_changed)
        self.router.failure_listeners.append(self._fail)
        self.gateway: Gateway | None = None
        self.gateway_url = ""
        self._extensions_up: list[Extension] = []  # started, in order (stopped in reverse)
        #: the installed families, by name (peerkit.extension); they hold the family state
        self.extensions: dict[str, Extension] = {}
        for ext in installable(BUILTIN, self.config):
            ext.install(self)
            self.extensions[ext.name] = ext

    def path(self, relative: str) -> Path:
        """A path from the config, relative to its peer.yaml's folder (cwd for code-built)."""
        base = Path(self.config.source).resolve().parent if self.config.source else Path.cwd()
        return base / relative

    def extension(self, kind: type[E]) -> E | None:
        """The installed extension of this class (None when its family is not enabled)."""
        ext = self.extensions.get(kind.name)
        return ext if isinstance(ext, kind) else None

    def has(self, family: str) -> bool:
        return family in self.extensions

    def watch_peers(
        self, listener: Callable[[str, bool], None], *, at_once: bool = False
    ) -> Callable[[], None]:
        """Call ``listener(peer, connected)`` when a connection has settled (a moment after
        it opened, so that work started for a new peer does not delay its first request) and
        when a settled connection closes; with ``at_once``, on every change as it happens.
        Returns the call that stops it (peer_watch.py)."""
        return self.router.peer_watch.watch(listener, at_once=at_once)

    def client(self, name: str) -> Any:
        """The client of the family called ``name`` (what ``node.<name>`` returns)."""
        ext = self.extensions.get(name)
        if ext is None:
            raise FamilyDisabled(
                f"{name} is not enabled on {self.config.name}",
                hint="naming needs storage: set storage.enabled: true in peer.yaml"
                if name in ("storage", "naming")
                else f"see docs/{name}.md",
            )
        return ext.client(self)

    # --- the families' clients (each is its extension's client) ---------------------------

    @property
    def storage(self) -> StorageClient:
        """Blocks, files, pins and DAG fetching on this peer (see peerkit.storage.client)."""
        return self.client("storage")

    @property
    def naming(self) -> NamingClient:
        """Names: publish, resolve, watch, revoke; login and the Me DAG."""
        return self.client("naming")

    @property
    def rendezvous(self) -> RendezvousApi:
        """Discovery at the node's rendezvous points."""
        return self.client("rendezvous")

    @property
    def routing(self) -> RoutingClient:
        """The DHT: find peers, providers of content and name records beyond the connected
        peers (see peerkit.routing.client)."""
        return self.client("routing")

    @property
    def dcs(self) -> DcsClient:
        """Shared documents: create, invite, edit, watch, revoke."""
        return self.client("dcs")

    @property
    def auth(self) -> AuthClient:
        """Multiauth: delegate capabilities, invoke with them, revoke them."""
        return self.client("auth")

    @classmethod
    def from_config_file(cls, path: str | Path) -> Node:
        return cls.from_config(load_config(path))

    @classmethod
    def from_config(cls, config: PeerConfig) -> Node:
        """Build a node and its services; relative paths are taken from the config's folder."""
        if config.identity is None and config.transport == "libp2p":
            config = msgspec.structs.replace(config, identity=DEFAULT_IDENTITY)
        node = cls(config)
        for spec in config.services:
            node.spawn(import_actor(spec, source=config.source))
        return node

    def _make_transport(self, seed: bytes | None) -> Transport:
        if self.config.transport == "memory":
            from ._transport.memory import MemoryTransport

            return MemoryTransport(
                name=self.config.name, max_frame=self.config.max_frame_size, seed=seed
            )
        from ._transport.libp2p import Libp2pTransport

        return Libp2pTransport(
            listen=self.config.listen,
            announce=self.config.announce,
            seed=seed,
            max_frame=self.config.max_frame_size,
            limits=self.config.limits,
            relay=self.config.relay,
        )

    # --- identity -------------------------------------------------------------------------

    @property
    def topics(self) -> list[str]:
        """The pubsub topics this peer is subscribed to (its own events' and its handlers')."""
        return sorted(self._topics)

    @property
    def identity_seed(self) -> bytes:
        """The node's secret seed (its peer key, on either transport), from which other
        identities are derived: the ``identity`` file's key (created if missing), else
        random for this run."""
        if self._seed is None:
            identity = self.config.identity
            self._seed = (
                load_or_create_identity(self.path(identity))
                if identity is not None
                else os.urandom(32)
            )
        return self._seed

    @property
    def transport(self) -> Transport:
        """The network side (built from the config and the identity when first needed)."""
        if self._transport is None:
            self._transport = self._make_transport(self.identity_seed)
            self.router.bind(self._transport)
        return self._transport

    @property
    def peer_id(self) -> str:
        return self.transport.peer_id

    def addrs(self) -> list[str]:
        """Where others can dial this peer (full multiaddrs ending in /p2p/<id>): what
        ``announce:`` says, then every listen address, 0.0.0.0 expanded to each interface."""
        return self.transport.addrs()

    # --- actors ---------------------------------------------------------------------------

    def spawn(
        self,
        factory: Callable[[], Actor] | type[Actor],
        *,
        name: str | None = None,
        mailbox_size: int | None = None,
    ) -> ActorRef:
        """Run an actor on this node and route the message types it handles to it.

        A :class:`~peerkit.service.Service` class gets its ``__init__`` dependencies injected.
        """
        from .service import PROVIDERS, Service

        build: Callable[[], Actor] | type[Actor] = factory
        if isinstance(factory, type) and issubclass(factory, Service):
            name = name or factory.__name__
            build = factory.factory(lambda dep: PROVIDERS[dep](self))
        ref = self.supervisor.spawn(build, name=name, mailbox_size=mailbox_size)
        for topic in self.router.add(ref):
            if topic not in self._topics:
                self._topics.add(topic)
                if self._started:
                    asyncio.get_running_loop().create_task(self.transport.subscribe(topic))
        return ref

    def actor(self, name: str) -> ActorRef:
        """The running actor named ``name`` (its class name unless named at spawn)."""
        for ref in self.supervisor.children:
            if ref.name == name:
                return ref
        raise KeyError(f"no actor named {name!r} on {self.config.name}")

    def _bind_actor(self, actor: Actor) -> None:
        actor.node = self

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the network side, the actors and the gateway. If any part cannot start, what
        did start is stopped again and the typed error is raised (nothing is left running)."""
        try:
            await self._start()
        except BaseException:
            await self._teardown()
            raise

    def _check_can_run(self) -> None:
        """Refuse, before anything starts, what cannot work: an identity another running peer
        holds, a listen port in use (py-libp2p would share it silently)."""
        from .addresses import port_in_use
        from .locks import hold

        if self.config.identity is not None and self._identity_lock is None:
            self._identity_lock = hold(
                self.path(self.config.identity), what="the identity", source=self.config.source
            )
        if self.config.transport == "libp2p" and not self._transport_given:
            for addr in self.config.listen:
                why = port_in_use(addr)
                if why is not None:
                    raise ConfigError(
                        f"cannot listen on {addr}: {why}",
                        path=self.config.source,
                        line=config_line(self.config, ["listen", self.config.listen.index(addr)]),
                        hint="pick another port (or 0 for a free one), or stop the other peer",
                    )

    async def _teardown(self) -> None:
        """Stop whatever has started, in reverse order (stop, and a start that failed)."""
        self._started = False
        if self.gateway is not None:
            await self.gateway.stop()
        if self._bootstrap_task is not None:
            self._bootstrap_task.cancel()
            await asyncio.gather(self._bootstrap_task, return_exceptions=True)
        await self.supervisor.stop()
        if self._transport_up:
            await self.transport.close()
            self._transport_up = False
        self.router.peer_watch.close()
        while self._extensions_up:
            await self._extensions_up.pop().stop(self)
        if self._identity_lock is not None:
            self._identity_lock.release()
            self._identity_lock = None

    async def _start(self) -> None:
        self._check_can_run()
        for ext in self.extensions.values():
            await ext.start(self)
            self._extensions_up.append(ext)
        # every message type the node routes is registered by now: build the envelope decoder
        # here rather than on the first envelope (a peer's first request paid it: ~6 ms with
        # the built-in families' 80 types, more with an app's)
        prepare_decoder()
        await self.transport.start(self.router)
        self._transport_up = True
        self.log = self.log.bind(peer_id=self.peer_id[-8:])
        self.router.log = self.log
        self.router.peer_watch.log = self.log
        self.supervisor.log = self.log
        for topic in sorted(self._topics):
            await self.transport.subscribe(topic)
        await self.supervisor.start()
        self._started = True
        #: when the node began to serve (wall clock: uptime on the dashboard)
        self.started_at = time.time()
        if self.config.gateway.enabled:
            from .gateway import Gateway

            self.gateway = Gateway(self, self.config.gateway.host, self.config.gateway.port)
            await self.gateway.start()
            self.gateway_url = self.gateway.url
        if self.config.bootstrap:
            self._bootstrap_task = asyncio.create_task(self._keep_bootstrapped())
        self.log.info("node.started", addrs=self.addrs(), actors=len(self.supervisor.children))

    async def stop(self) -> None:
        if not self._started:
            return
        await self._teardown()
        self._stopped.set()
        self.log.info("node.stopped")

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._started

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def _escalated(self, err: SupervisorEscalation) -> None:
        self._fail(err)

    def _fail(self, err: PeerkitError) -> None:
        """Stop the node because part of it cannot go on; ``peerkit run`` then exits 1 and
        /health/ready answers 503 until the gateway stops with it."""
        if self.failure is not None:
            return
        self.failure = err
        self.log.critical("node.failed", error=str(err))
        if self._started:
            asyncio.get_running_loop().create_task(self.stop())

    # --- the network ----------------------------------------------------------------------

    async def connect(self, target: str | list[str], *, timeout: float = 10.0) -> str:
        """Dial a peer: one full address (``.../p2p/<id>``), a list of a peer's addresses
        (tried in order until one answers), or a bare peer id (the addresses this node has
        learnt for it: from rendezvous records and earlier connections). Returns the peer id;
        DialFailed naming every address tried otherwise. A peer id nobody here knows is
        looked up in the DHT (routing)."""
        if (
            isinstance(target, str)
            and _PEER_ID.fullmatch(target)
            and not self.known_addrs.get(target)
            and self.has("routing")
        ):
            found = await self.client("routing").find_peer(target)
            self.learn_addrs(target, found)
        addrs = self._addresses_to_try(target)
        failures: list[str] = []
        for addr in addrs:
            try:
                peer = await self.transport.connect(addr, timeout=timeout)
            except DialFailed as exc:
                failures.append(str(exc))
                continue
            self.log.info("peer.dialled", remote=peer[-8:], addr=addr)
            self.learn_addrs(peer, [addr])
            return peer
        if len(failures) == 1:
            raise DialFailed(failures[0])
        raise DialFailed(
            f"cannot connect to {target if isinstance(target, str) else 'the peer'}: "
            + "; ".join(failures)
        )

    def _addresses_to_try(self, target: str | list[str]) -> list[str]:
        from .addresses import AddressError, dial_order, parse_dialable

        if isinstance(target, str) and not target.startswith("/"):
            if not _PEER_ID.fullmatch(target):
                raise DialFailed(
                    f"cannot dial {target!r}: neither a multiaddr nor a peer id",
                    hint="give a full multiaddr ending in /p2p/<peer id>, or a known peer's id",
                )
            known = self.known_addrs.get(target, [])
            if not known:
                raise DialFailed(
                    f"no known address of peer {target}",
                    hint="dial a full address once, or find the peer through a rendezvous point",
                )
            return dial_order(known)
        addrs = [target] if isinstance(target, str) else list(target)
        if not addrs:
            raise DialFailed("no address to dial")
        if len(addrs) > 1:
            addrs = dial_order(addrs)  # public first, then this LAN, relays, other LANs
        if self.config.transport == "memory" or self._transport_given:
            return addrs  # the in-memory network has its own address form
        usable, errors = [], []
        for addr in addrs:
            try:
                parse_dialable(addr)
                usable.append(addr)
            except AddressError as exc:
                errors.append(exc)
        if not usable:  # a list may carry addresses of kinds we do not speak: skip those
            raise DialFailed(str(errors[0]), hint=errors[0].hint)
        return usable

    def learn_addrs(self, peer: str, addrs: list[str]) -> None:
        """Remember where ``peer`` can be dialled (newest first, a bounded number of peers)."""
        if not addrs or peer == self.peer_id:
            return
        known = self.known_addrs.pop(peer, [])
        self.known_addrs[peer] = list(dict.fromkeys([*addrs, *known]))[:MAX_ADDRS_PER_PEER]
        while len(self.known_addrs) > MAX_KNOWN_PEERS:
            del self.known_addrs[next(iter(self.known_addrs))]

    def peers(self) -> list[str]:
        return self.transport.connected_peers()

    def _addrs_changed(self) -> None:
        self.addrs_version += 1
        event, self._addrs_event = self._addrs_event, asyncio.Event()
        event.set()

    async def addrs_changed_since(self, version: int) -> None:
        """Return once the announced addresses have changed since ``version`` (an earlier
        ``addrs_version``): at once if they already have."""
        while self.addrs_version == version:
            await self._addrs_event.wait()

    def dialled(self, peer: str) -> bool:
        """Whether this node opened its connection to ``peer`` (False: the peer dialled us)."""
        return self.router.peer_watch.dialled(peer)

    def connection_kind(self, peer: str) -> str | None:
        """ "direct", or "relayed" through a circuit relay (None: not connected)."""
        return self.transport.connection_kind(peer)

    @property
    def reachable(self) -> bool | None:
        """Whether other peers can dial this one, as a rendezvous point's dial-back found
        (None: not checked)."""
        return self.transport.reachable

    async def set_reachable(self, reachable: bool) -> None:
        """Take a dial-back's answer: a peer nobody can dial reserves at its bootstrap peers
        that relay (``relay.reserve: auto``)."""
        self.transport.reachable = reachable
        if not reachable and self.transport.wants_relay_slot():
            for addr in self.config.bootstrap:
                peer = addr.rsplit("/p2p/", 1)[-1]
                if peer in self.peers():
                    await self.transport.reserve_at(peer, addr)

    def remote_ip(self, peer: str) -> str | None:
        return self.transport.remote_ip(peer)

    def take_open_write(self, sender: str, msg: Message) -> str | None:
        return self.router.take_open_write(sender, msg)

    async def dial_back(self, peer: str, addrs: list[str]) -> list[str]:
        """Which of ``addrs`` reach ``peer`` from a fresh dialer (a reachability check)."""
        return await self.transport.dial_back(peer, addrs)

    async def request(
        self, peer: str, msg: Message, *, timeout: float | None = None, auth: bytes = b""
    ) -> Any:
        """Ask ``peer`` and wait for its reply. ``auth``: see ``node.auth.request``."""
        return await self.router.request(
            peer,
            msg,
            timeout=timeout if timeout is not None else self.config.request_timeout,
            auth=auth,
        )

    async def send(self, peer: str, msg: Message, *, auth: bytes = b"") -> None:
        """One-way delivery to ``peer`` (events and messages; requests go by ``request``)."""
        await self.router.send(peer, msg, auth=auth)

    async def publish(self, event: Event, topic: str | None = None) -> None:
        await self.router.publish(event, topic)

    async def subscribe(self, topic: str) -> None:
        """Join a topic explicitly (for event types whose topic is a ``prefix.*`` family)."""
        if topic not in self._topics:
            self._topics.add(topic)
            if self._transport_up:  # actors may subscribe in on_start, before start() is done
                await self.transport.subscribe(topic)

    async def wait_for_subscribers(
        self, topic: str | type[Event], count: int = 1, *, timeout: float = 10.0
    ) -> list[str]:
        """Wait until ``count`` other peers are subscribed to ``topic`` (or an event's topic).

        Pubsub delivers only to peers whose subscription we have heard of: publish after this
        when the first events matter.
        """
        name = topic if isinstance(topic, str) else topic_of(topic)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(subs := self.transport.subscribers(name)) < count:
            if loop.time() > deadline:
                raise RequestTimeout(
                    f"only {len(subs)} of {count} peers subscribed to {name!r} after {timeout}s"
                )
            await asyncio.sleep(0.01)  # subscriptions arrive with gossip; no event to wait on
        return subs

    # --- bootstrap ------------------------------------------------------------------------

    def _peer_changed(self, peer: str, connected: bool) -> None:
        if not connected:
            self._lost.set()

    async def _keep_bootstrapped(self) -> None:
        """Dial every bootstrap peer; redial with capped, jittered backoff when one is lost."""
        failures: dict[str, int] = {}
        while True:
            connected = set(self.peers())
            delay = None
            for addr in self.config.bootstrap:
                if addr.rsplit("/p2p/", 1)[-1] in connected:
                    failures.pop(addr, None)
                    continue
                try:
                    await self.connect(addr)
                    failures.pop(addr, None)
                except (DialFailed, TransportError) as exc:
                    n = failures[addr] = failures.get(addr, 0) + 1
                    wait = min(30.0, 0.25 * 2**n) * random.uniform(0.8, 1.2)
                    delay = wait if delay is None else min(delay, wait)
                    self.log.warning(
                        "bootstrap.unreachable", addr=addr, error=str(exc), retry_in=round(wait, 2)
                    )
            self._lost.clear()
            if delay is None:
                await self._lost.wait()  # all connected: sleep until a connection drops
            else:
                await wait_or_sleep(self.clock, self._lost, delay)  # backoff on the node's clock


def add_app_paths(config_path: Path) -> None:
    """The app's own modules (services) are importable from the config's folder and from cwd."""
    for folder in (Path.cwd(), config_path.resolve().parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def import_actor(spec: str, *, source: str | None = None, line: int | None = None) -> type[Actor]:
    """Import ``"package.module:ClassName"`` and check that it is an Actor; ConfigError naming
    the file and line (``source``, ``line``) and what the module does have otherwise."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"service {spec!r} must look like 'package.module:ClassName'", path=source, line=line
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"service {spec!r}: cannot import {module_name}: {exc}",
            path=source,
            line=line,
            hint="run peerkit from your app's folder, or install your app into the environment",
        ) from None
    actors = sorted(
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, Actor)
        and value.__module__ == module.__name__
    )
    actor = getattr(module, attr, None)
    if actor is None:
        raise ConfigError(
            f"service {spec!r}: {module_name} has no {attr}",
            path=source,
            line=line,
            hint=f"it defines: {', '.join(actors)}"
            if actors
            else f"{module_name} defines no actor",
        )
    if not (isinstance(actor, type) and issubclass(actor, Actor)):
        raise ConfigError(
            f"service {spec!r}: {attr} is a {type(actor).__name__}, not an Actor class",
            path=source,
            line=line,
            hint=f"its actors: {', '.join(actors)}" if actors else None,
        )
    return actor
