"""The router: envelopes in, typed messages to actors; typed messages out, envelopes to peers.

Matching is pure (:meth:`Router.match` looks a tag up in the routing table); dispatch is the thin
part around it. Every inbound payload is decoded into its declared type (msgspec validates it)
before an actor sees it; anything that does not fit is answered with a typed error and never
reaches a handler. The router never blocks the transport: a full mailbox is answered ``busy``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any

import structlog

from ._transport.base import PROTOCOL_ID, Channel, Transport
from .actor import ActorRef, Context
from .bounds import LogThrottle, clip
from .config import LimitsConfig
from .errors import (
    ActorStopped,
    HandlerFailed,
    MailboxFull,
    NoHandler,
    PeerBusy,
    PeerDisconnected,
    PeerkitError,
    RemoteError,
    RequestTimeout,
    UnknownMessageType,
    UsageError,
    UserOnly,
    ValidationFailed,
    error_from_code,
    wire_code,
)
from .messages import Event, Message, Registry, Request, default_registry, tag_of, topic_of
from .peer_watch import PeerWatch
from .ratelimit import Buckets, Rate
from .request_stats import RequestStats
from .wire import (
    ERROR,
    EVENT,
    PUBLISH,
    REPLY,
    REQUEST,
    Envelope,
    decode_error_message,
    decode_payload,
    encode_envelope,
    encode_error,
)

#: the counter label of every inbound type that is not registered
UNKNOWN_LABEL = "(unknown)"


class Ack(Message, tag="peerkit.Ack"):
    """The reply sent for a request whose handler returned None."""


@dataclass(frozen=True, slots=True)
class Route:
    tag: str
    msg_type: type[Message]
    actors: tuple[ActorRef, ...]
    topic: str | None = None  # set for events
    protocol: str = PROTOCOL_ID
    requires: Any = None  # the capability remote requests must prove (peerkit.auth.Requires)
    open_write: bool = False  # stores what anyone sends: charged to the sender's quota
    user_only: bool = False  # only this node's own user calls it (handler(peers=False))
    handler: str = ""  # the handling method's name (request metrics label it so)

    @property
    def kind(self) -> str:
        if issubclass(self.msg_type, Event):
            return "event"
        if issubclass(self.msg_type, Request):
            return "request"
        return "message"


def _topic_matches(declared: str | None, topic: str) -> bool:
    """An event type's topic is exact, or a family ``prefix.*`` (e.g. per-user inboxes)."""
    if declared is None:
        return False
    if declared.endswith(".*"):
        return topic.startswith(declared[:-1]) and len(topic) > len(declared) - 1
    return declared == topic


class Router:
    def __init__(
        self,
        transport: Transport | None = None,
        *,
        registry: Registry = default_registry,
        log: Any = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        #: set now or by :meth:`bind` (a node builds its transport when first needed)
        self._transport = transport
        self.limits = limits = limits or LimitsConfig()
        self.registry = registry
        self.log = log if log is not None else structlog.get_logger()
        self._routes: dict[str, Route] = {}
        self._ids = itertools.count(1)
        self._pending: dict[Channel, dict[int, asyncio.Future[Any]]] = {}
        self.messages_in: Counter[str] = Counter()
        self.messages_out: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        #: bounds warnings about what peers send (shared with the transport)
        self.throttle = LogThrottle()
        # requests being handled, per stream and per peer (flow control, idle streams)
        self._serving: Counter[Channel] = Counter()
        self._serving_peer: Counter[str] = Counter()
        # open-write quotas: per sender (count and bytes) and for everyone together
        self._writes = Buckets(Rate.per_minute(limits.open_writes_per_peer_per_minute))
        self._write_bytes = Buckets(Rate.per_minute(limits.open_write_bytes_per_peer_per_minute))
        self._all_writes = Buckets(Rate.per_minute(limits.open_writes_per_minute))
        #: requests answered "busy" and writes refused by limits, by reason (for /metrics)
        self.limited: Counter[str] = Counter()
        #: who hears of connections opening and closing (once they have settled)
        self.peer_watch = PeerWatch(log=self.log)
        #: called when the addresses this peer announces change
        self.addrs_listeners: list[Any] = []
        #: called once if the transport stops on its own (the node fails)
        self.failure_listeners: list[Any] = []
        #: latency and errors of the requests this peer answers (gateway /metrics)
        self.requests = RequestStats()
        #: called with every event accepted for this peer's actors (message, context): the
        #: gateway's event streams; a listener must not block
        self.event_listeners: list[Any] = []
        #: checks the authorization of requests whose handler declares ``requires``; set by
        #: the node (peerkit.auth.Guard). Without one such requests are refused.
        self.guard: Any = None

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            raise UsageError("the router has no transport yet: bind() one first")
        return self._transport

    def bind(self, transport: Transport) -> None:
        self._transport = transport

    # --- the routing table (pure) ---------------------------------------------------------

    def add(self, ref: ActorRef) -> list[str]:
        """Route every type ``ref``'s actor handles to it; returns the topics it needs."""
        topics = []
        for msg_type in ref.actor_type.handled_types():
            spec = ref.actor_type._handlers[msg_type]
            if spec.local:
                continue  # the node's own commands to its actor: no peer reaches them
            tag = tag_of(msg_type)
            old = self._routes.get(tag)
            is_event = issubclass(msg_type, Event)
            if old is not None and not is_event:
                raise ValueError(
                    f"{tag} is already handled by {old.actors[0].name}; a request or message"
                    " type has one handler per node (events may have many)"
                )
            actors = (*(old.actors if old else ()), ref)
            topic = topic_of(msg_type) if is_event else None  # type: ignore[arg-type]
            requires = spec.requires
            if requires is not None:
                requires.check_fields(msg_type)
            self._routes[tag] = Route(
                tag,
                msg_type,
                actors,
                topic,
                requires=requires,
                open_write=spec.open_write or (old is not None and old.open_write),
                user_only=spec.user_only,
                handler=spec.method,
            )
            if topic is not None and not topic.endswith(".*"):  # families are joined one by one
                topics.append(topic)
        return topics

    def match(self, tag: str) -> Route | None:
        return self._routes.get(tag)

    def routes(self) -> list[Route]:
        return [self._routes[t] for t in sorted(self._routes)]

    # --- outbound -------------------------------------------------------------------------

    async def request(
        self, peer: str, msg: Message, *, timeout: float | None = 10.0, auth: bytes = b""
    ) -> Any:
        """Send ``msg`` to ``peer`` and wait for its reply (or its typed error).

        ``auth`` is an authorization container (peerkit.auth) for handlers that require one.
        """
        tag = tag_of(type(msg))
        if peer == self.transport.peer_id:
            return await self._local_request(msg, tag, timeout)
        rid = next(self._ids)
        channel: Channel | None = None
        try:
            # the timeout covers everything: a stream to a peer that stopped answering may
            # take as long to open as the answer would to come
            async with asyncio.timeout(timeout):
                channel = await self.transport.channel(peer)
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._pending.setdefault(channel, {})[rid] = fut
                channel.send(encode_envelope(REQUEST, rid, msg, auth))
                self.messages_out[tag] += 1
                await channel.drain()
                return await fut
        except TimeoutError:
            raise RequestTimeout(
                f"{peer} did not answer {tag} within {timeout}s", peer=peer
            ) from None
        finally:
            waiting = self._pending.get(channel) if channel is not None else None
            if waiting is not None:
                waiting.pop(rid, None)

    async def _local_request(self, msg: Message, tag: str, timeout: float | None) -> Any:
        route = self.match(tag)
        if route is None:
            raise NoHandler(f"no actor on this peer handles {tag}")
        return await route.actors[0].ask(msg, timeout=timeout)

    async def send(self, peer: str, msg: Message, *, auth: bytes = b"") -> None:
        """One-way delivery to the actor that handles ``msg`` on ``peer`` (not for requests:
        a peer refuses a request type sent one way). ``auth`` as for :meth:`request`."""
        if isinstance(msg, Request):
            raise UsageError(f"{tag_of(type(msg))} is a request: use request(), not send()")
        channel = await self.transport.channel(peer)
        channel.send(encode_envelope(EVENT, 0, msg, auth))
        self.messages_out[tag_of(type(msg))] += 1
        await channel.drain()

    async def publish(self, event: Event, topic: str | None = None) -> None:
        """Publish on the event's topic (or ``topic``, under a ``prefix.*`` event topic);
        local subscribers receive it too."""
        tag = tag_of(type(event))
        declared = topic_of(type(event))
        if topic is None:
            topic = declared
        elif not _topic_matches(declared, topic):
            raise ValueError(f"{tag} may not be published on {topic!r} (its topic: {declared})")
        await self.transport.publish(topic, encode_envelope(PUBLISH, 0, event))
        self.messages_out[tag] += 1
        route = self.match(tag)
        if route is not None:
            for ref in route.actors:
                await ref.tell(event, Context(sender=self.transport.peer_id, topic=topic))

    # --- inbound (transport callbacks: never block) ---------------------------------------

    def on_envelope(self, channel: Channel, env: Envelope) -> None:
        kind = env.kind
        if kind == REQUEST:
            self._dispatch_request(channel, env)
        elif kind in (REPLY, ERROR):
            self._resolve(channel, env)
        elif kind == EVENT:
            self._dispatch_event(channel.peer, env, None)
        else:  # PUBLISH belongs on a topic, not a stream
            self.log.warning("router.unexpected_envelope", remote=channel.peer, kind=kind)
            channel.reset()

    def on_published(self, topic: str, sender: str, env: Envelope) -> None:
        if env.kind != PUBLISH:
            self.log.warning("router.unexpected_envelope", remote=sender, kind=env.kind)
            return
        self._dispatch_event(sender, env, topic)

    def on_channel_closed(self, channel: Channel, error: PeerkitError | None) -> None:
        waiting = self._pending.pop(channel, None)
        if not waiting:
            return
        reason = f"{channel.peer} went away with {len(waiting)} request(s) in flight"
        if error is not None:
            reason += f" ({error})"
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(PeerDisconnected(reason, peer=channel.peer))

    def on_peer(self, peer: str, connected: bool, *, dialled: bool = False) -> None:
        self.log.debug("peer.connected" if connected else "peer.disconnected", remote=peer)
        self.peer_watch.changed(peer, connected, dialled=dialled)

    def on_addrs_changed(self) -> None:
        for listener in self.addrs_listeners:
            listener()

    def on_transport_failed(self, error: PeerkitError) -> None:
        self.log.critical("transport.failed", error=str(error))
        for listener in self.failure_listeners:
            listener(error)

    def _label(self, tag: str) -> str:
        """The counter label for an inbound tag: registered types by name, everything else as
        one label (peers choose tags: each new string would be a new series, kept forever)."""
        return tag if tag in self.registry else UNKNOWN_LABEL

    def channel_busy(self, channel: Channel) -> bool:
        return bool(self._serving[channel] or self._pending.get(channel))

    def _dispatch_request(self, channel: Channel, env: Envelope) -> None:
        self.messages_in[self._label(env.tag)] += 1
        peer = channel.peer
        try:
            self._admit_request(peer)
            route = self._route_for(env)
            if route.user_only:
                raise UserOnly(
                    f"{env.tag} is for this peer's own user; other peers may not call it"
                )
            msg = decode_payload(env, route.msg_type)
            if route.requires is not None:
                self._authorize(env, msg, peer, route)
            if route.open_write:
                self._charge_open_write(peer, msg)
            fut = route.actors[0].ask_nowait(msg, Context(sender=peer))
        except MailboxFull:
            self.requests.failed(self._label(env.tag), "busy")
            self._reply_error(channel, env.id, "busy", f"{env.tag}: the handler is busy, retry")
            return
        except RemoteError as exc:  # includes ActorStopped, PeerBusy and the guard's errors
            self.requests.failed(self._label(env.tag), wire_code(exc))
            self._reply_error(channel, env.id, wire_code(exc), str(exc))
            return
        self._serving[channel] += 1
        self._serving_peer[peer] += 1
        fut.add_done_callback(
            partial(self._reply, channel, env.id, route.msg_type, route, perf_counter())
        )

    def _admit_request(self, peer: str) -> None:
        """PeerBusy when ``peer`` has as many requests in flight as it may, or when replies
        are piling up unread (for it, or for everyone): backpressure costs the peer a short
        error, never our memory."""
        limits = self.limits
        reason = None
        if self._serving_peer[peer] >= limits.max_requests_per_peer:
            reason = "requests_per_peer"
            message = f"{limits.max_requests_per_peer} of your requests are being handled"
        elif self.transport.queued_for(peer) > limits.max_queued_bytes_per_peer:
            reason = "queued_per_peer"
            message = "you have not read the replies already sent"
        elif self.transport.queued_for() > limits.max_queued_bytes:
            reason = "queued_total"
            message = "this peer has too many replies waiting to be read"
        else:
            return
        self.limited[reason] += 1
        raise PeerBusy(f"busy: {message}; retry later")

    def _charge_open_write(self, sender: str, msg: Message) -> None:
        """Spend ``sender``'s open-write quota (count and bytes) and the shared one."""
        refused = self.take_open_write(sender, msg)
        if refused is not None:
            raise PeerBusy(refused)

    def take_open_write(self, sender: str, msg: Message) -> str | None:
        """Spend ``sender``'s open-write quota (count and bytes) and the shared one for
        ``msg``; what to tell the sender when a quota is used up (None: spent). For handlers
        that decide themselves which writes are open ones (naming: a first record of a name)."""
        size = len(encode_envelope(EVENT, 0, msg))
        quotas = [
            ("open_writes_per_peer", self._writes, sender, 1),
            ("open_write_bytes_per_peer", self._write_bytes, sender, size),
            ("open_writes_total", self._all_writes, "all", 1),
        ]
        # Check all before spending any: a refused write costs no quota.
        for reason, buckets, key, amount in quotas:
            wait = buckets.retry_after(key, amount)
            if wait > 0:
                self.limited[reason] += 1
                return f"busy: write quota used up ({reason}); retry in {math.ceil(wait)}s"
        for _, buckets, key, amount in quotas:
            buckets.take(key, amount)
        return None

    def _dispatch_event(self, sender: str, env: Envelope, topic: str | None) -> None:
        self.messages_in[self._label(env.tag)] += 1
        try:
            route = self._route_for(env)
            if route.kind == "request":
                # A request's handler may assume a caller waiting for its answer, and its
                # authorization is checked on the request path: never run it one-way.
                raise ValidationFailed(f"{env.tag} is a request type; it cannot be sent one-way")
            if route.user_only:
                raise UserOnly(f"{env.tag} is for this peer's own user")
            if topic is not None and not _topic_matches(route.topic, topic):
                raise ValidationFailed(f"{env.tag} does not belong on topic {topic!r}")
            msg = decode_payload(env, route.msg_type)
            if route.requires is not None:
                self._authorize(env, msg, sender, route)
            if route.open_write:
                self._charge_open_write(sender, msg)
        except PeerkitError as exc:  # RemoteError, and the guard's AuthError
            self.dropped[self._label(env.tag)] += 1
            suppressed = self.throttle.allow("event.rejected")
            if suppressed is not None:
                self.log.warning(
                    "event.rejected",
                    remote=sender,
                    tag=clip(env.tag),
                    error=clip(str(exc)),
                    suppressed=suppressed,
                )
            return
        ctx = Context(sender=sender, topic=topic)
        for listener in self.event_listeners:
            listener(msg, ctx)
        for ref in route.actors:
            try:
                ref.tell_nowait(msg, ctx)
            except MailboxFull as exc:
                self.dropped[self._label(env.tag)] += 1
                suppressed = self.throttle.allow("event.dropped")
                if suppressed is not None:  # a flood fills mailboxes: say so, boundedly
                    self.log.warning(
                        "event.dropped",
                        actor=ref.name,
                        tag=env.tag,
                        error=str(exc),
                        suppressed=suppressed,
                    )
            except ActorStopped:
                self.log.debug("event.dropped_on_shutdown", actor=ref.name, tag=env.tag)

    def _authorize(self, env: Envelope, msg: Message, sender: str, route: Route) -> None:
        """The interceptor, the one rule for every way into a handler: a request or event
        whose handler requires a capability must prove it (the guard raises AuthError)."""
        if self.guard is None:
            from .auth.errors import AuthError

            raise AuthError(f"{env.tag} requires authorization, which this peer cannot check")
        self.guard.check(env.auth, msg, sender, route.requires)

    def _route_for(self, env: Envelope) -> Route:
        route = self.match(env.tag)
        if route is not None:
            return route
        if env.tag in self.registry:
            raise NoHandler(f"no actor on this peer handles {env.tag}")
        raise UnknownMessageType(f"unknown message type {clip(env.tag)!r}")

    def _reply(
        self,
        channel: Channel,
        rid: int,
        req_type: type[Message],
        route: Route,
        began: float,
        fut: asyncio.Future[Any],
    ) -> None:
        label = route.tag  # a routed type: registered, a bounded label
        self.requests.answered(label, route.handler, perf_counter() - began)
        if fut.cancelled():
            self.requests.failed(label, "cancelled")
        elif fut.exception() is not None:
            self.requests.failed(label, wire_code(fut.exception()))  # type: ignore[arg-type]
        self._send_reply(channel, rid, req_type, fut)

    def _send_reply(
        self, channel: Channel, rid: int, req_type: type[Message], fut: asyncio.Future[Any]
    ) -> None:
        self._serving[channel] -= 1
        if self._serving[channel] <= 0:
            del self._serving[channel]
        self._serving_peer[channel.peer] -= 1
        if self._serving_peer[channel.peer] <= 0:
            del self._serving_peer[channel.peer]
        if channel.closed:  # nobody to answer; the outcome is still seen (no loose ends)
            if not fut.cancelled():
                fut.exception()
            return
        if fut.cancelled():
            self._reply_error(channel, rid, "cancelled", "the handler was cancelled")
            return
        exc = fut.exception()
        if exc is not None:
            self._reply_error(channel, rid, wire_code(exc), str(exc))
            return
        result = fut.result()
        if result is None:
            result = Ack()
        expected = getattr(req_type, "__peerkit_reply__", None)
        if isinstance(expected, str):
            expected = self.registry.get(expected)
        if not isinstance(result, Message) or (
            isinstance(expected, type) and not isinstance(result, expected | Ack)
        ):
            self._handler_failed(
                channel,
                rid,
                "handler.bad_reply",
                f"handler for {tag_of(req_type)} returned {type(result).__name__},"
                f" expected {getattr(expected, '__name__', 'a Message')}",
            )
            return
        body = encode_envelope(REPLY, rid, result)
        if len(body) > self.transport.max_frame:
            # the asker would reset the stream on it (and lose every other reply on it)
            self._handler_failed(
                channel,
                rid,
                "handler.reply_too_large",
                f"the reply to {tag_of(req_type)} is {len(body)} bytes, over the"
                f" {self.transport.max_frame}-byte frame limit",
            )
            return
        self._send(channel, body)

    def _handler_failed(self, channel: Channel, rid: int, event: str, message: str) -> None:
        """The handler's answer cannot be sent: say so to the asker, and in the log."""
        self.log.error(event, error=message)
        self._reply_error(channel, rid, HandlerFailed.code, message)

    def _reply_error(self, channel: Channel, rid: int, code: str, message: str) -> None:
        self._send(channel, encode_error(rid, code, message))

    def _send(self, channel: Channel, body: bytes) -> None:
        try:
            channel.send(body)
        except PeerDisconnected:
            self.log.debug("reply.undeliverable", remote=channel.peer)
        self.peer_watch.exchanged(channel.peer)  # answered: the connection has settled

    def _resolve(self, channel: Channel, env: Envelope) -> None:
        self.peer_watch.exchanged(channel.peer)  # answered: the connection has settled
        fut = self._pending.get(channel, {}).pop(env.id, None)
        if fut is None or fut.done():
            return  # the asker gave up (timeout/cancel); a late answer is not an error
        if env.kind == ERROR:
            fut.set_exception(
                error_from_code(env.tag, decode_error_message(env), peer=channel.peer)
            )
            return
        reply_type = self.registry.get(env.tag)
        if reply_type is None:
            fut.set_exception(UnknownMessageType(f"reply of unknown type {clip(env.tag)!r}"))
            return
        try:
            fut.set_result(decode_payload(env, reply_type))
        except ValidationFailed as exc:
            fut.set_exception(exc)
