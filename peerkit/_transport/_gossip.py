"""Gossipsub configured so that peerkit events are not silently dropped.

py-libp2p 0.8.1 loses pubsub messages in four places by default; each is handled here:

- a 32-slot channel per subscription, filled with ``send_nowait`` (drops when the reader lags):
  we override ``notify_subscriptions`` and hand each message straight to a callback;
- a 32-slot outbound queue per peer (drops when full): queues are enlarged, and ``publish`` waits
  while any peer's queue is above a high-water mark, so the publisher feels backpressure;
- a 10 msg/s per-topic spam limit that also counts our own publishes: disabled;
- IDONTWANT control traffic on every message with meshsub 1.2: we speak meshsub 1.1;
- no flood publishing: a peer's own message went only to its mesh (or, not subscribed, to 6
  fanout peers), so on an app node with 50 users connected only to it, the users outside
  those 6 and their neighbours got nothing (bench_growth: whole processes of users received
  0 of 200 events; gossip's IHAVE did not make up for it). gossipsub v1.1 publishes a peer's
  own messages to every peer subscribed to the topic whose score allows it (go-libp2p's
  default): ``_FloodPublishing`` does so; forwarding others' messages stays mesh-only.

Not a loss but a cost: py-libp2p attaches its signed peer record to every pubsub RPC and checks
the one on every RPC it receives (an Ed25519 verification and a rewrite of the sender's
addresses in the peerstore), duplicates included. A peer's record changes only with its
addresses, so a record already accepted from that peer is taken as read
(``_consume_sender_record_once``): on 5 fully meshed peers each publish is 16 RPCs.

Gossipsub also echoes our own publications to our own subscription; the callback never sees them.

What strangers may send is bounded before a message is delivered or forwarded: each forwarding
peer has a token bucket of messages, and a message whose data is not a peerkit envelope fails
validation (so gossipsub neither delivers nor forwards it, and counts it against the sender's
score). Only validated messages reach peerkit or the rest of the mesh.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import libp2p.pubsub.gossipsub
import libp2p.pubsub.pubsub
import trio
from libp2p.custom_types import TProtocol
from libp2p.exceptions import ValidationError
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.score import ScoreParams, TopicScoreParams
from libp2p.pubsub.utils import maybe_consume_signed_record

from ..peer_watch import SETTLE_SECONDS
from ..ratelimit import Buckets, Rate

MESHSUB_PROTOCOL = TProtocol("/meshsub/1.1.0")
QUEUE_SLOTS = 4096
HIGH_WATER = 1024  # publish waits while a peer's outbound queue holds more than this


#: gossipsub v1.1 peer scoring, as far as py-libp2p 0.8.1 implements it: each invalid message
#: (not a peerkit envelope, or over the per-peer rate) costs a point, decaying by 10% a second;
#: a forwarder below -100 has its messages refused at the door (before validation), and below
#: -400 it is left out of gossip. One burst of junk costs the sender ~10 s of being ignored.
SCORE_PARAMS = ScoreParams(
    p4_invalid_messages=TopicScoreParams(weight=1.0, cap=1000.0, decay=0.9),
    publish_threshold=-100.0,
    gossip_threshold=-400.0,
    graylist_threshold=-400.0,
)


#: a record accepted from a peer is checked again after this (its addresses' TTL is refreshed)
RECHECK_RECORD_AFTER = 600.0
#: peers whose last accepted record is remembered, per peerstore (then forgotten together)
MAX_REMEMBERED_RECORDS = 10_000
_accepted_records: weakref.WeakKeyDictionary[Any, dict[Any, tuple[bytes, float]]] = (
    weakref.WeakKeyDictionary()
)


def _consume_sender_record_once(msg: rpc_pb2.RPC, host: Any, peer_id: Any) -> bool:
    """py-libp2p's ``maybe_consume_signed_record``, skipped for the exact record the same
    peer had accepted within ``RECHECK_RECORD_AFTER`` (see the module docstring). One
    difference: once identify has brought a newer record of that peer, py-libp2p would drop
    the peer's RPCs that still carry the older one; here they are delivered."""
    if not msg.HasField("senderRecord"):
        return True
    raw = msg.senderRecord
    accepted = _accepted_records.setdefault(host.get_peerstore(), {})
    now = time.monotonic()
    known = accepted.get(peer_id)
    if known is not None and known[0] == raw and now - known[1] < RECHECK_RECORD_AFTER:
        return True
    ok = maybe_consume_signed_record(msg, host, peer_id)
    if ok:
        if len(accepted) >= MAX_REMEMBERED_RECORDS:
            accepted.clear()
        accepted[peer_id] = (raw, now)
    return ok


# Both modules imported the function by name; they look it up in their own namespace per RPC.
libp2p.pubsub.pubsub.maybe_consume_signed_record = _consume_sender_record_once
libp2p.pubsub.gossipsub.maybe_consume_signed_record = _consume_sender_record_once


class _FloodPublishing(GossipSub):
    """GossipSub with v1.1 flood publishing of our own messages (see the module docstring)."""

    def _get_peers_to_send(
        self,
        topic_ids: Any,
        msg_forwarder: Any,
        origin: Any,
        msg_id: bytes | None = None,
    ) -> Any:
        chosen = set(super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id))
        if self.pubsub is None or origin != self.pubsub.my_id:
            return chosen  # forwarding someone else's message: the mesh only
        for topic in topic_ids:
            for peer in self.pubsub.peer_topics.get(topic, ()):
                if peer == origin or peer in chosen:
                    continue
                if self.scorer is None or self.scorer.allow_publish(peer, [topic]):
                    chosen.add(peer)
        return chosen


class _EnlargingQueues(dict):
    """``Pubsub.peer_queues`` replacement: every per-peer queue gets QUEUE_SLOTS slots."""

    def __setitem__(self, key: Any, queue: Any) -> None:
        inner = getattr(queue, "_queue", None)
        if inner is not None:
            inner.max_size = QUEUE_SLOTS
        super().__setitem__(key, queue)


class PeerkitPubsub(Pubsub):
    def __init__(
        self,
        host: Any,
        deliver: Callable[[str, bytes, bytes], None],
        *,
        max_message_size: int,
        accept: Callable[[bytes], bool] = lambda data: True,
        per_peer: Buckets | None = None,
    ) -> None:
        router = _FloodPublishing(
            protocols=[MESHSUB_PROTOCOL],
            degree=6,
            degree_low=4,
            degree_high=12,
            heartbeat_interval=1,
            spam_protection_enabled=False,
            max_idontwant_messages=0,
            score_params=SCORE_PARAMS,
        )
        super().__init__(host, router, max_inbound_rpc_size=max_message_size + 1024)
        self.peer_queues = _EnlargingQueues(self.peer_queues)
        self._deliver = deliver
        self._accept = accept
        self._per_peer = per_peer
        self._pace = (
            Buckets(Rate(0.9 * per_peer.rate.per_second, 0.9 * per_peer.rate.burst))
            if per_peer is not None
            else None
        )
        self._my_id_bytes = host.get_id().to_bytes()
        self._drained = trio.Event()
        #: per new peer: set once its connection has settled (the hello waits for it)
        self._settled: dict[Any, trio.Event] = {}
        #: messages dropped before delivery, by reason (for /metrics)
        self.dropped: Counter[str] = Counter()

    async def _handle_new_peer_with_retry(self, peer_id: Any, timeout: float | None = None) -> None:
        # The hello (our subscriptions, over a stream of its own) waits until the connection
        # has settled, as peerkit's own connection chores do (peer_watch.py: its first request
        # answered, or SETTLE_SECONDS): sent at once it competed with the first request on the
        # connection (connect + first reply 58 -> 37 ms median without it).
        settled = self._settled.setdefault(peer_id, trio.Event())
        with trio.move_on_after(SETTLE_SECONDS):
            await settled.wait()
        self._settled.pop(peer_id, None)
        await super()._handle_new_peer_with_retry(peer_id, timeout)

    def settled(self, peer_id: Any, connected: bool) -> None:
        """The connection to ``peer_id`` has settled (or, once settled, closed)."""
        if connected:
            self._settled.setdefault(peer_id, trio.Event()).set()
        else:
            self._settled.pop(peer_id, None)

    async def push_msg(self, msg_forwarder: Any, msg: rpc_pb2.Message) -> None:
        scorer = getattr(self.router, "scorer", None)
        if (
            msg_forwarder != self.my_id
            and scorer is not None
            and not scorer.allow_publish(msg_forwarder, list(msg.topicIDs))
        ):
            self.dropped["score"] += 1  # gossipsub refuses it at the door; we count it
        await super().push_msg(msg_forwarder, msg)

    async def validate_msg(self, msg_forwarder: Any, msg: rpc_pb2.Message) -> None:
        if self._per_peer is not None and not self._per_peer.take(str(msg_forwarder)):
            self.dropped["rate"] += 1
            raise ValidationError("over the per-peer gossip rate")
        if not self._accept(msg.data):
            self.dropped["invalid"] += 1
            raise ValidationError("not a peerkit envelope")
        await super().validate_msg(msg_forwarder, msg)

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        if publish_message.from_id == self._my_id_bytes:
            return  # gossipsub's echo of our own publication
        for topic in publish_message.topicIDs:
            if topic in self.topic_ids:
                self._deliver(topic, publish_message.from_id, publish_message.data)

    async def write_msg(self, stream: Any, rpc_msg: rpc_pb2.RPC) -> bool:
        ok = await super().write_msg(stream, rpc_msg)
        self._drained.set()
        self._drained = trio.Event()
        return ok

    async def publish_with_backpressure(self, topic: str, data: bytes) -> None:
        while any(len(q) > HIGH_WATER for q in self.peer_queues.values()):
            await self._drained.wait()
        # Our own pace stays under what peers accept from one forwarder (the same limit,
        # less a margin for jitter): a burst is spread out here rather than dropped there.
        if self._pace is not None:
            while not self._pace.take("self"):
                await trio.sleep(self._pace.retry_after("self"))
        await self.publish(topic, data)
