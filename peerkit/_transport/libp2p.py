"""The real network: a py-libp2p host (TCP, Noise, yamux, identify, ping, gossipsub).

This module and its siblings are the only code that imports trio or libp2p, and the one place
libp2p/trio exceptions are translated into peerkit errors. Known py-libp2p 0.8.1 traps handled:

- only Noise is offered: the default host also accepts unauthenticated ``/plaintext/2.0.0``;
- only yamux: mplex deadlocks on bidirectional traffic, and ``create_yamux_muxer_option()``
  quietly adds mplex as a fallback, so the muxer table is built here;
- the swarm's ``dial_peer`` waits its 250 ms happy-eyeballs head start even after a dial that
  worked, whenever a peer may have two connections (we allow two: relayed + hole-punched), so
  our dials go one address at a time through ``dial_addr`` (``_connect_first``);
- yamux sends a WINDOW_UPDATE after every read unless ``PY_YAMUX_RELEASE_ON_READ=0`` (off by
  default here; bench_bridge: a guest-mode round trip 1.42x -> 1.25x pure trio), and even then
  one after nearly every other small message (it credits the bytes read twice): three frames a
  round trip instead of two. ``_yamux_credit`` grants credit as go-yamux does (an update once
  half the window is used); the environment still decides when it sets the variable;
- identify has no event to wait on: ``_track_identify`` adds one, so a relay slot is asked for
  only once a peer's protocols are known;
- frames are buffered by our FrameDecoder: libp2p's ``read_exactly`` fails past ~6.5 MB;
- the reader never waits on an actor (inbound callbacks do not block), so yamux never sees the
  5 s reader stall after which it resets a stream;
- connections are closed *before* pubsub stops ("Nursery is closed to new arrivals" otherwise),
  and the listeners are closed by hand (cancelling the host leaves its SO_REUSEPORT listening
  socket open: a second listener on the port would silently get half of the new connections);
- the package imports every transport it ships (QUIC, AutoTLS, mDNS: ~15 MB a process);
  ``_lean_libp2p`` imports it with stand-ins for the packages only those need;
- libp2p's own logging is quietened (failed dials log at ERROR); we report through our errors;
- the swarm's auto-connector (background dials to every known address) is switched off, and an
  explicit dial clears the 60 s negative cache that would refuse a restarted peer.
"""

from __future__ import annotations

# First, before anything imports libp2p: py-libp2p without the transports peerkit never enables.
from . import _lean_libp2p  # noqa: F401

# isort: split

import asyncio
import functools
import logging
import os
from collections import Counter
from functools import partial
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.rcmgr import Direction
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from ..addresses import announced, interfaces_read_at, parse
from ..bounds import clip
from ..config import LimitsConfig, RelayConfig
from ..errors import (
    DialFailed,
    InvalidPeerId,
    PeerDisconnected,
    PeerkitError,
    TransportError,
    WireError,
)
from ..ratelimit import Buckets, Rate
from ..wire import DEFAULT_MAX_FRAME, PUBLISH, decode_envelope
from ._autonat import AutoNATServer
from ._channel import DISCONNECT_ERRORS, Libp2pChannel
from ._gossip import PeerkitPubsub
from ._guards import Guards
from ._holepunch import HolePunching, on_relayed_connection
from ._relay import Relaying, has_public_address, is_circuit
from ._yamux_credit import install as install_yamux_credit
from ._yamux_write import install as install_whole_frame_writes
from .base import PROTOCOL_ID, Channel, Inbound, Transport
from .bridge import TrioGuest

# Read by py-libp2p's yamux on every read (see the module docstring); set before any stream.
os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
install_yamux_credit()
install_whole_frame_writes()

_PROTO = TProtocol(PROTOCOL_ID)


def quiet_libp2p_logging() -> None:
    level = os.environ.get("PEERKIT_LIBP2P_LOG", "CRITICAL").upper()
    logging.getLogger("libp2p").setLevel(level)


_NOT_STARTED = TrioGuest()  # placeholder until start(): not running, so close() is a no-op


class Libp2pTransport(Transport):
    def __init__(
        self,
        *,
        listen: list[str] | None = None,
        announce: list[str] | None = None,
        seed: bytes | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        dial_timeout: float = 10.0,
        limits: LimitsConfig | None = None,
        relay: RelayConfig | None = None,
    ) -> None:
        quiet_libp2p_logging()
        self.limits = limits or LimitsConfig()
        self.relay_config = relay or RelayConfig()
        #: circuit relay v2 (set up with the host)
        self.relay: Relaying | None = None
        #: DCUtR: relayed connections upgraded to direct ones (None: turned off)
        self.hole_punching: HolePunching | None = None
        #: AutoNAT v1 answers for any libp2p peer (relays give them; None: not a relay)
        self.autonat: AutoNATServer | None = None
        #: admission, reply-queue accounting and keepalive (what strangers may cost)
        self.guards = Guards(self.limits, max_frame)
        self._listen = [multiaddr.Multiaddr(a) for a in (listen or ["/ip4/127.0.0.1/tcp/0"])]
        self._announce = list(announce or [])
        self._advertised_memo: tuple[Any, list[multiaddr.Multiaddr]] | None = None
        self.seed = seed or os.urandom(32)
        self._key_pair = create_new_key_pair(self.seed)
        self.peer_id = ID.from_pubkey(self._key_pair.public_key).to_base58()
        self.max_frame = max_frame
        self.dial_timeout = dial_timeout
        self.bridge: TrioGuest = _NOT_STARTED
        self._host: Any = None
        self._pubsub: PeerkitPubsub | None = None
        self._inbound: Inbound | None = None
        self._outbound: dict[str, Libp2pChannel] = {}
        self._opening: dict[str, asyncio.Future[Libp2pChannel]] = {}
        self._dialling: dict[Any, trio.Event] = {}  # peer id -> a dial on its way (trio side)
        self._identifying: dict[Any, trio.Event] = {}  # peer id -> its identify has ended
        self._channels: set[Libp2pChannel] = set()
        #: open connections per peer, as the swarm notified them (a peer may have two: relayed
        #: and, after hole punching, direct); the router hears of the first and the last
        self._connections: Counter[str] = Counter()
        self._host_scope: trio.CancelScope | None = None
        self._host_done: trio.Event | None = None
        self._closing = False
        self.wire_errors = 0
        self.internal_errors = 0
        #: set when the libp2p runtime stopped on its own (the node then fails)
        self.failure: TransportError | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, inbound: Inbound) -> None:
        self._inbound = inbound
        # gossipsub's hello to a new peer waits until its connection has settled
        inbound.peer_watch.watch(self._peer_settled)
        self.bridge = await TrioGuest.acquire()
        try:
            await self.bridge.call(self._start_host)
        except BaseException:
            await self.bridge.release()
            raise

    async def _start_host(self) -> None:
        security = {
            NOISE_PROTOCOL_ID: NoiseTransport(
                self._key_pair, noise_privkey=create_x25519_key_pair().private_key
            )
        }
        cap = self.limits.max_inbound_connections + self.limits.reserved_outbound_connections
        self._host = new_host(
            key_pair=self._key_pair,
            sec_opt=security,
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},  # and nothing else
            connection_config=ConnectionConfig(
                # two: a relayed connection and the direct one hole punching made, until the
                # relayed one is let go (py-libp2p would trim the older one at once, with the
                # requests still on it)
                max_connections_per_peer=2,
                # peerkit decides whom to dial (bootstrap, rendezvous): no background dialling
                # of every address the peerstore ever saw.
                min_connections=0,
                auto_connect_interval=1e9,
                # libp2p's cap counts dials too: ours on inbound leaves the reserve for them;
                # its pruner (above high_watermark) must never pick our app nodes, so it is
                # set at the cap, where it never runs
                max_connections=cap,
                high_watermark=cap,
                low_watermark=0,
                inbound_upgrade_timeout=self.limits.handshake_timeout,
            ),
            listen_addrs=self._listen,
            # what identify (and so every peer we meet) learns: the announced addresses, never
            # 0.0.0.0 (py-libp2p would send the listen addresses as bound)
            addrs_factory=self._advertised,
        )
        self._track_identify()
        network = self._host.get_network()
        # The listener looks the handler up on each connection: admission control goes first.
        network._handle_inbound_connection = partial(
            self.guards.admit_inbound, network._handle_inbound_connection
        )
        # relayed connections come in through the same admission control
        self.relay = Relaying(
            self._host, self.relay_config, partial(self.guards.admit_inbound, self._upgrade_relayed)
        )
        self.relay.on_change = self._addrs_changed
        if self.relay_config.hole_punch:
            self.hole_punching = HolePunching(self._host)
        if self.relay_config.serve:
            self.autonat = AutoNATServer(self._host, partial(self._dial_back, timeout=5.0))
        per_second = self.limits.gossip_per_peer_per_second
        self._pubsub = PeerkitPubsub(
            self._host,
            self._deliver,
            max_message_size=self.max_frame,
            accept=_is_publish_envelope,
            per_peer=Buckets(Rate(per_second, 2 * per_second)),
        )
        self._host.set_stream_handler(_PROTO, self._on_stream)
        self._host_done = trio.Event()
        started = trio.Event()
        self.bridge.spawn_system(self._run_host, started)
        await started.wait()
        if self.failure is not None:
            raise self.failure
        auto = getattr(self._host.get_network(), "auto_connector", None)
        if auto is not None:
            await auto.stop()  # peerkit decides whom to dial
        self._host.get_network().register_notifee(_Notifee(self))

    async def _run_host(self, started: trio.Event) -> None:
        assert self._host_done is not None and self._pubsub is not None
        try:
            with trio.CancelScope() as scope:
                self._host_scope = scope
                async with self._host.run(self._listen):
                    async with background_trio_service(self._pubsub):
                        await self._pubsub.wait_until_ready()
                        async with trio.open_nursery() as nursery:
                            relay_ready = trio.Event()
                            assert self.relay is not None
                            nursery.start_soon(self.relay.run, relay_ready)
                            await relay_ready.wait()
                            if self.hole_punching is not None:
                                nursery.start_soon(self._punch_holes)
                            started.set()
                            await self.guards.keepalive(self._host, self._unresponsive)
        except* Exception as group:
            # py-libp2p raises "Nursery is closed to new arrivals" when pubsub stops with peers
            # still attached; we disconnect them first, but a late identify may still race.
            if not self._closing:
                self._failed(group.exceptions[0])
        finally:
            if not self._closing:
                self._failed(RuntimeError("the libp2p host stopped"))  # no-op if already said
            self._host_done.set()
            started.set()  # start() reads self.failure

    def _addrs_changed(self) -> None:
        # (trio runs as a guest of the asyncio loop, on its thread: a plain call is safe)
        if self._inbound is not None and not self._closing:
            self._inbound.on_addrs_changed()

    async def _upgrade_relayed(self, raw: Any, maddr: Any) -> None:
        """Noise and yamux over a relayed connection someone opened to us. (The swarm's own
        inbound handler would wrap it in a fresh RawConnection that forgets it is relayed:
        the connection then looked direct, to us and to hole punching.)"""
        network = self._host.get_network()
        try:
            await network.upgrade_inbound_raw_conn(raw, maddr)
        except Exception:  # a failed handshake costs this connection only
            with trio.move_on_after(1):
                try:
                    await raw.close()
                except Exception:
                    pass
            return
        await network.manager.wait_finished()  # (the swarm's barrier: the connection lives on)

    async def _punch_holes(self) -> None:
        assert self.hole_punching is not None
        async with background_trio_service(self.hole_punching):
            await trio.sleep_forever()

    def _peer_settled(self, peer: str, connected: bool) -> None:
        if self._pubsub is not None:
            self._pubsub.settled(_peer_id(peer), connected)

    def _direct_connection(self, peer: str) -> None:
        """A direct connection to ``peer`` came up (hole punching, or a dial): requests from
        now on go over it. The session stream opened over a relay is let go, not closed: what
        is on its way finishes there, and it closes once idle (the relayed leg goes later)."""
        chan = self._outbound.get(peer)
        if chan is not None and chan.relayed:
            del self._outbound[peer]

    def _unresponsive(self, peer: ID) -> None:
        log = getattr(self._inbound, "log", None)
        if log is not None and not self._closing:
            log.info(
                "peer.unresponsive",
                remote=peer.to_base58(),
                closed_after=self.limits.keepalive_timeout,
            )

    def queued_for(self, peer: str | None = None) -> int:
        return self.guards.queued_for(peer)

    def _failed(self, exc: BaseException) -> None:
        """The libp2p runtime is gone: say so loudly, once (the node stops and exits 1)."""
        if self.failure is not None:
            return
        self.failure = TransportError(
            f"the libp2p runtime stopped: {clip(f'{type(exc).__name__}: {exc}')}"
        )
        self.internal_error("host", "runtime", exc)
        if self._inbound is not None:
            self._inbound.on_transport_failed(self.failure)

    async def close(self) -> None:
        if self._closing or not self.bridge.running:
            return
        self._closing = True
        try:
            await self.bridge.call(self._shutdown)
        finally:
            await self.bridge.release()

    async def _shutdown(self) -> None:
        assert self._host is not None
        with trio.move_on_after(5):
            # all at once: py-libp2p takes ~0.2 s per disconnect, and a peer that routes is
            # connected to dozens
            async with trio.open_nursery() as nursery:
                for peer in list(self._host.get_network().connections):
                    nursery.start_soon(self._disconnect_quietly, peer)
            # Close the listeners ourselves: cancelling the host's scope skips its own cleanup,
            # and the listening socket (bound with SO_REUSEPORT) then outlived the node: a
            # peer restarted in the same process shared the port with a dead listener.
            for listener in list(self._host.get_network().listeners.values()):
                try:
                    await listener.close()
                except Exception:  # best effort while stopping
                    pass
            if self._host_scope is not None:
                self._host_scope.cancel()
            if self._host_done is not None:
                await self._host_done.wait()

    async def _disconnect_quietly(self, peer: ID) -> None:
        try:
            await self._host.disconnect(peer)
        except DISCONNECT_ERRORS:
            pass

    # --- addressing -----------------------------------------------------------------------

    def addrs(self) -> list[str]:
        """Announced addresses (peerkit.addresses): never 0.0.0.0, each with /p2p/<id>; the
        relayed ones (…/p2p-circuit/p2p/<id>) last."""
        if self._host is None:
            return []
        relayed = self.relay.announced(self.peer_id) if self.relay is not None else []
        return self._direct_addrs() + relayed

    def _advertised(self, candidates: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
        """py-libp2p's address factory: its candidates (listen and observed addresses) as
        peerkit announces them. py-libp2p asks on every pubsub RPC it sends (to sign its
        peer record), so the answer is kept while its inputs stay the same: parsing and
        expanding the addresses cost ~0.5 ms a call."""
        key = (tuple(a.to_bytes() for a in candidates), interfaces_read_at())
        if self._advertised_memo is None or self._advertised_memo[0] != key:
            self._advertised_memo = (key, self._announce_candidates(candidates))
        return list(self._advertised_memo[1])

    def _announce_candidates(
        self, candidates: list[multiaddr.Multiaddr]
    ) -> list[multiaddr.Multiaddr]:
        bound = []
        for addr in candidates:
            text = str(addr)
            try:
                parse(text, what="listen address")
            except PeerkitError:  # a form we do not announce (not TCP or WebSocket)
                continue
            bound.append(text)
        return [multiaddr.Multiaddr(a) for a in announced(bound, self._announce)]

    def _direct_addrs(self) -> list[str]:
        suffix = f"/p2p/{self.peer_id}"
        bound = [str(a).removesuffix(suffix) for a in self._host.get_addrs()]
        return [a + suffix for a in announced(bound, self._announce) if not is_circuit(a)]

    def remote_ip(self, peer: str) -> str | None:
        """The IP address ``peer``'s direct connection to us comes from (None: none)."""
        if self._host is None:
            return None
        for conn in self._host.get_network().connections.get(_peer_id(peer)) or []:
            if _relayed(conn):
                continue
            try:
                addr = conn.muxed_conn.secured_conn.get_remote_address()
            except Exception:  # a connection type without a socket address
                continue
            if addr:
                return str(addr[0])
        return None

    async def dial_back(self, peer: str, addrs: list[str], timeout: float = 5.0) -> list[str]:
        """Which of ``addrs`` reach ``peer`` from here, dialled by a throwaway host (our own
        host already holds a connection to the asker: dialling with it proves nothing).
        The handshake checks the peer id: an address reaches someone else is not counted."""
        return await self.bridge.call(self._dial_back, peer, addrs, timeout)

    async def _dial_back(self, peer: str, addrs: list[str], timeout: float) -> list[str]:
        key_pair = create_new_key_pair()
        prober = new_host(
            key_pair=key_pair,
            sec_opt={
                NOISE_PROTOCOL_ID: NoiseTransport(
                    key_pair, noise_privkey=create_x25519_key_pair().private_key
                )
            },
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        )
        reached: list[str] = []
        with trio.move_on_after(timeout * len(addrs) + 5):
            async with prober.run([]):
                for addr in addrs:
                    try:
                        info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
                        if info.peer_id.to_base58() != peer:
                            continue
                        with trio.fail_after(timeout):
                            await prober.connect(info)
                        reached.append(addr)
                        await prober.disconnect(info.peer_id)
                    except Exception:  # unreachable, refused, another peer there
                        continue
        return reached

    def connection_kind(self, peer: str) -> str | None:
        """ "direct" or "relayed" (None: not connected)."""
        if self._host is None:
            return None
        conns = self._host.get_network().connections.get(_peer_id(peer)) or []
        if not conns:
            return None
        return "relayed" if all(_relayed(c) for c in conns) else "direct"

    def connection_counts(self) -> Counter[tuple[str, str]]:
        """Open connections by (direction, kind): "inbound"/"outbound", "direct"/"relayed"."""
        counts: Counter[tuple[str, str]] = Counter()
        if self._host is None:
            return counts
        for conns in self._host.get_network().connections.values():
            for conn in conns:
                muxed = getattr(conn, "muxed_conn", None)
                outbound = bool(getattr(muxed, "is_initiator", True))
                kind = "relayed" if _relayed(conn) else "direct"
                counts[("outbound" if outbound else "inbound", kind)] += 1
        return counts

    def connected_peers(self) -> list[str]:
        if self._host is None:
            return []
        return [p.to_base58() for p, conns in self._host.get_network().connections.items() if conns]

    async def connect(self, addr: str, *, timeout: float | None = None) -> str:
        if is_circuit(addr):
            return await self._connect_relayed(addr, timeout or self.dial_timeout)
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        except Exception as exc:
            raise DialFailed(
                f"cannot dial {addr!r}: {exc}",
                hint="give a full multiaddr ending in /p2p/<peer id>",
            ) from exc
        try:
            await self.bridge.call(self._dial, info, timeout or self.dial_timeout)
        except (trio.TooSlowError, *DISCONNECT_ERRORS) as exc:
            raise DialFailed(
                f"cannot connect to {addr}: {dial_cause(exc, timeout or self.dial_timeout)}"
            ) from exc
        peer = str(info.peer_id.to_base58())
        if self.wants_relay_slot():
            self.bridge.spawn_system(self._reserve, peer, addr.removesuffix(f"/p2p/{peer}"))
        return peer

    def wants_relay_slot(self) -> bool:
        policy = self.relay_config.reserve
        if policy == "never" or self.relay is None:
            return False
        if policy == "always":
            return True
        if self.reachable is not None:  # a dial-back said (rendezvous points check it)
            return not self.reachable
        return not has_public_address(self._direct_addrs())

    async def reserve_at(self, peer: str, addr: str) -> None:
        """Reserve a slot at ``peer`` (connected; ``addr`` is its full address)."""
        await self.bridge.call(self._reserve, peer, addr.removesuffix(f"/p2p/{peer}"))

    async def _reserve(self, peer: str, addr: str) -> None:
        """Try for a slot at a peer we dialled (a relay says yes; others say no, quietly)."""
        assert self.relay is not None
        await self._identified(peer)  # its protocols say whether it relays at all
        if peer not in self.relay.reserved and self.relay.worth_asking(peer):
            await self.relay.reserve(peer, f"{addr}/p2p/{peer}")

    async def _connect_relayed(self, addr: str, timeout: float) -> str:
        """Dial ``…/p2p/<relay>/p2p-circuit/p2p/<peer>``: the relay first, then through it."""
        relay_part, _, target = addr.partition("/p2p-circuit")
        try:
            relay_info = info_from_p2p_addr(multiaddr.Multiaddr(relay_part))
            peer = target.removeprefix("/p2p/")
            _peer_id(peer)
        except Exception as exc:
            raise DialFailed(
                f"cannot dial {addr!r}: {exc}",
                hint="a relayed address is <relay address>/p2p-circuit/p2p/<peer id>",
            ) from exc

        async def dial() -> None:
            assert self.relay is not None
            with trio.fail_after(timeout):
                if relay_info.peer_id not in self._host.get_network().connections:
                    await self._connect_first(relay_info)
                await self.relay.dial(addr)

        try:
            await self.bridge.call(dial)
        except (trio.TooSlowError, ConnectionError, *DISCONNECT_ERRORS) as exc:
            raise DialFailed(f"cannot connect to {addr} through its relay: {exc!r}") from exc
        return peer

    async def _dial(self, info: Any, timeout: float) -> None:
        # An explicit dial uses the address given now: forget stale addresses of that peer
        # and its entry in the swarm's negative cache, which otherwise refuses every dial to
        # a peer for 60 s after one failed (a restarted peer could not be redialled).
        network = self._host.get_network()
        self._host.get_peerstore().clear_addrs(info.peer_id)
        negative = getattr(network, "_negative_peer_cache", None)
        if negative is not None:
            negative.evict(str(info.peer_id))
        with trio.fail_after(timeout):
            await self._connect_first(info)

    async def _connect_first(self, info: Any) -> None:
        """``host.connect`` to the first of ``info.addrs``, without its 250 ms wait.

        py-libp2p's ``dial_peer`` waits the happy-eyeballs delay after a successful dial for as
        long as a second connection to the peer is allowed, and we allow two (a relayed one and
        the direct one hole punching makes): every connect cost 250 ms (37 -> 254 ms). peerkit
        orders and tries addresses itself (``node.connect``), so one address per dial is all
        this needs. Concurrent dials to one peer share one attempt, as the swarm's do."""
        network = self._host.get_network()
        self._host.get_peerstore().add_addrs(info.peer_id, info.addrs, 120)
        while True:
            live = [c for c in network.get_connections(info.peer_id) if not c.is_closed]
            if live:
                await live[0].event_started.wait()
                return
            pending = self._dialling.get(info.peer_id)
            if pending is None:
                break
            await pending.wait()  # another dial to this peer is on its way: share its outcome
        done = self._dialling[info.peer_id] = trio.Event()
        try:
            conn = await network.dial_addr(info.addrs[0], info.peer_id)
            await conn.event_started.wait()
        finally:
            del self._dialling[info.peer_id]
            done.set()
        self._host._schedule_identify(info.peer_id, reason="connect")

    def _track_identify(self) -> None:
        """Let the transport wait for py-libp2p's identify of a peer (it offers no event).

        Asking a peer for a relay slot before its protocols are known opened a stream at every
        peer dialled, relay or not, in the same moments as the first request (connect + first
        reply: one stream fewer to negotiate on a busy connection)."""
        host = self._host
        entry = host._identify_task_entry

        async def tracked(peer_id: Any, reason: str) -> None:
            try:
                await entry(peer_id, reason)
            finally:
                done = self._identifying.pop(peer_id, None)
                if done is not None:
                    done.set()

        host._identify_task_entry = tracked

    async def _identified(self, peer: str) -> None:
        """Until the identify of ``peer`` that is on its way has ended (5 s at most)."""
        peer_id = _peer_id(peer)
        if peer_id not in self._host._identify_inflight:
            return
        done = self._identifying.setdefault(peer_id, trio.Event())
        with trio.move_on_after(5):
            await done.wait()

    async def disconnect(self, peer: str) -> None:
        await self.bridge.call(self._host.disconnect, _peer_id(peer))

    # --- channels -------------------------------------------------------------------------

    async def channel(self, peer: str) -> Channel:
        _peer_id(peer)  # a malformed id is the caller's error, typed, before any I/O
        chan = self._outbound.get(peer)
        if chan is not None and not chan.closed:
            return chan
        pending = self._opening.get(peer)
        if pending is None:
            pending = self.bridge.call(self._open_channel, peer)
            self._opening[peer] = pending
            pending.add_done_callback(partial(self._opened, peer))
        return await asyncio.shield(pending)

    def _opened(self, peer: str, fut: asyncio.Future[Libp2pChannel]) -> None:
        self._opening.pop(peer, None)
        if not fut.cancelled():
            fut.exception()  # seen here: a caller that gave up (shielded) is no loose end

    async def _open_channel(self, peer: str) -> Libp2pChannel:
        try:
            stream = await self._host.new_stream(_peer_id(peer), [_PROTO])
        except DISCONNECT_ERRORS as exc:
            raise PeerDisconnected(f"cannot open a stream to {peer}: {exc!r}", peer=peer) from exc
        chan = Libp2pChannel(self, stream, peer, outbound=True)
        chan.relayed = on_relayed_connection(stream)
        self._outbound[peer] = chan
        self._channels.add(chan)
        assert self._inbound is not None
        self.bridge.spawn_system(self._guarded, chan.run, self._inbound)
        return chan

    async def _on_stream(self, stream: Any) -> None:
        peer = stream.muxed_conn.peer_id.to_base58()
        if not self.guards.open_stream(peer):
            with trio.move_on_after(1):
                try:
                    await stream.reset()
                except Exception:
                    pass
            return
        try:
            chan = Libp2pChannel(self, stream, peer, outbound=False)
            self._channels.add(chan)
            assert self._inbound is not None
            await self._guarded(chan.run, self._inbound)
        finally:
            self.guards.close_stream(peer)

    def _forget(self, chan: Libp2pChannel) -> None:
        self._channels.discard(chan)
        if self._outbound.get(chan.peer) is chan:
            del self._outbound[chan.peer]

    def spawn(self, fn: Any, *args: Any) -> None:
        self.bridge.spawn_system(self._guarded, fn, *args)

    async def _guarded(self, fn: Any, *args: Any) -> None:
        """Run a trio task whose failure must stay its own (py-libp2p runs handlers in the
        nursery of the connection, and the bridge's nursery is every transport's)."""
        try:
            await fn(*args)
        except Exception as exc:
            self.internal_error("task", getattr(fn, "__qualname__", "?"), exc)

    def log_wire_error(self, peer: str, exc: WireError) -> None:
        self.wire_errors += 1
        log = getattr(self._inbound, "log", None)
        throttle = getattr(self._inbound, "throttle", None)
        suppressed = throttle.allow("wire.rejected") if throttle is not None else 0
        if log is not None and suppressed is not None:
            log.warning(
                "wire.rejected", remote=clip(peer), error=clip(str(exc)), suppressed=suppressed
            )

    def internal_error(self, where: str, about: str, exc: BaseException) -> PeerkitError:
        """Count and log (bounded) an unexpected exception caught at the trio boundary."""
        self.internal_errors += 1
        log = getattr(self._inbound, "log", None)
        if log is not None:
            log.error(
                "transport.internal_error",
                where=where,
                about=clip(about),
                error=clip(f"{type(exc).__name__}: {exc}"),
            )
        return TransportError(f"internal error in {where}: {type(exc).__name__}")

    # --- pubsub ---------------------------------------------------------------------------

    def _deliver(self, topic: str, sender: bytes, data: bytes) -> None:
        assert self._inbound is not None
        try:
            sender_id = ID(sender).to_base58()
            if len(data) > self.max_frame:
                raise WireError(f"pubsub message of {len(data)} bytes exceeds the frame limit")
            env = decode_envelope(data)
        except WireError as exc:
            self.log_wire_error(topic, exc)
            return
        except Exception as exc:  # a sender field that is no peer id, or worse
            self.internal_error("pubsub", topic, exc)
            return
        try:
            self._inbound.on_published(topic, sender_id, env)
        except Exception as exc:
            self.internal_error("pubsub", topic, exc)

    async def subscribe(self, topic: str) -> None:
        assert self._pubsub is not None
        await self.bridge.call(self._pubsub.subscribe, topic)

    async def unsubscribe(self, topic: str) -> None:
        assert self._pubsub is not None
        await self.bridge.call(self._pubsub.unsubscribe, topic)

    async def publish(self, topic: str, body: bytes) -> None:
        assert self._pubsub is not None
        if len(body) > self.max_frame:
            raise WireError(f"event of {len(body)} bytes exceeds the frame limit")
        await self.bridge.call(self._pubsub.publish_with_backpressure, topic, body)

    def subscribers(self, topic: str) -> list[str]:
        if self._pubsub is None:
            return []
        return [p.to_base58() for p in self._pubsub.peer_topics.get(topic, ())]

    def stats(self) -> dict[str, int]:
        return {
            "channels": len(self._channels),
            "bridge_calls": self.bridge.live_calls,
            "connections": len(self.connected_peers()),
            "wire_errors": self.wire_errors,
            "internal_errors": self.internal_errors,
            "inbound_connections": self.guards.inbound_total,
            "queued_bytes": self.guards.queued_total,
            **{f"refused_{reason}": n for reason, n in self.guards.refused.items()},
            **{f"keepalive_{kind}_pings": n for kind, n in self.guards.pings.items()},
            **{f"autonat_{k}": n for k, n in (self.autonat.counts if self.autonat else {}).items()},
            **{
                f"holepunch_{k}": n
                for k, n in (self.hole_punching.counts if self.hole_punching else {}).items()
            },
            **{
                f"gossip_dropped_{k}": n
                for k, n in (self._pubsub.dropped if self._pubsub else {}).items()
            },
        }


def dial_cause(exc: BaseException, timeout: float) -> str:
    """What a person needs from a failed dial: the first cause that says something (py-libp2p
    wraps "connection refused" in two layers of "unable to connect")."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    causes: list[BaseException] = []
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        causes.append(err)
        nested = [err.__cause__, err.__context__]
        nested += list(getattr(err, "exceptions", ()) or ())
        nested += list(getattr(err, "errors", ()) or ())
        stack.extend(e for e in nested if isinstance(e, BaseException))
    for err in causes:
        if isinstance(err, ConnectionRefusedError):
            return "connection refused (nothing listens at that address: is the peer running?)"
        if isinstance(err, trio.TooSlowError | TimeoutError):
            return f"no answer within {timeout:g} s (a firewall, a NAT, or a wrong address?)"
        if isinstance(err, OSError) and err.strerror:
            return err.strerror.lower()
    for err in causes:
        text = str(err)
        if "peer id" in text.lower() or "handshake" in text.lower():
            return f"the security handshake failed ({text})"
    return str(causes[-1]) or type(causes[-1]).__name__


def _is_publish_envelope(data: bytes) -> bool:
    """Gossip validation: only peerkit PUBLISH envelopes are delivered or forwarded."""
    try:
        return decode_envelope(data).kind == PUBLISH
    except WireError:
        return False


# memoized: base58 in pure Python is ~10 us, and every request names its peer
@functools.lru_cache(maxsize=4096)
def _peer_id(peer: str) -> ID:
    try:
        return ID.from_base58(peer)
    except (ValueError, TypeError, KeyError):
        raise InvalidPeerId(
            f"{peer[:60]!r} is not a peer id", peer=peer, hint="peer ids look like 12D3KooW..."
        ) from None


class _Notifee:
    """Tells the router when connections open and close (libp2p INotifee)."""

    def __init__(self, transport: Libp2pTransport) -> None:
        self.t = transport

    async def connected(self, network: Any, conn: Any) -> None:
        peer = conn.muxed_conn.peer_id.to_base58()
        if not _relayed(conn):
            self.t._direct_connection(peer)
        self.t._connections[peer] += 1
        if self.t._connections[peer] == 1 and self.t._inbound is not None:
            dialled = getattr(conn, "direction", None) == Direction.OUTBOUND
            self.t._inbound.on_peer(peer, True, dialled=dialled)

    async def disconnected(self, network: Any, conn: Any) -> None:
        peer_id = conn.muxed_conn.peer_id
        peer = peer_id.to_base58()
        if self.t.relay is not None:
            self.t.relay.forget(peer)  # a reservation lasts as long as the connection
        # One of two connections closing (the relayed one, once hole punching made a direct
        # one) is not the peer going away. The swarm's own list decides when our count and it
        # disagree (a connection the swarm dropped without telling us it had opened).
        left = self.t._connections[peer] - 1
        still_open = any(not c.is_closed for c in network.connections.get(peer_id, []))
        if left > 0 and still_open:
            self.t._connections[peer] = left
            return
        if self.t._connections.pop(peer, 0) and self.t._inbound is not None:
            self.t._inbound.on_peer(peer, False)

    async def opened_stream(self, network: Any, stream: Any) -> None: ...

    async def closed_stream(self, network: Any, stream: Any) -> None: ...

    async def listen(self, network: Any, multiaddr: Any) -> None: ...

    async def listen_close(self, network: Any, multiaddr: Any) -> None: ...


def _relayed(conn: Any) -> bool:
    """Whether a swarm connection runs through a relay (its addresses name a circuit)."""
    try:
        addrs = conn.get_transport_addresses() or []
    except Exception:  # a connection type without addresses: not relayed
        return False
    return any("/p2p-circuit" in str(a) for a in addrs)
