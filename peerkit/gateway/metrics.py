"""``/metrics``: a peer's state in the Prometheus exposition format, by the conventions.

Built with ``prometheus_client`` (its collector interface and exposition, so the text and its
content type are what Prometheus expects) from the node's own counters, read at scrape time:
one registry per node, nothing global, so several peers in one process never mix.

Every label value is bounded: message types are registered tags (anything else a peer sends is
one ``(unknown)`` label, router._label), handlers and actors are the node's own, error codes are
peerkit's error classes, reasons and kinds are fixed sets.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client import exposition as _exposition
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from .. import __version__

if TYPE_CHECKING:
    from ..node import Node

#: the classic text format every Prometheus reads (newer clients default to 1.0.0, which only
#: Prometheus 3 negotiates); our names are plain ASCII, so the bytes are the same
CONTENT_TYPE = getattr(_exposition, "CONTENT_TYPE_PLAIN_0_0_4", _exposition.CONTENT_TYPE_LATEST)


def registry_for(node: Node) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, process_resident_memory...
    PlatformCollector(registry=registry)  # python_info
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text and its content type (``text/plain; version=0.0.4; charset=utf-8``)."""
    return generate_latest(registry), CONTENT_TYPE


class NodeCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node
        self.started = time.time()

    def collect(self) -> Iterator[Metric]:
        node = self.node
        stats = node.transport.stats()
        router = node.router

        info = InfoMetricFamily("peerkit_build", "peerkit's version and the Python running it.")
        info.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield info
        yield _gauge(
            "peerkit_start_time_seconds", "When the node started (Unix time).", self.started
        )
        yield _gauge("peerkit_ready", "1 once the node serves (health/ready).", float(_ready(node)))

        conns = GaugeMetricFamily(
            "peerkit_connections",
            "Open connections to other peers, by who dialled and how they are carried.",
            labels=["direction", "kind"],
        )
        counts = node.transport.connection_counts() if node.running else {}
        for direction in ("inbound", "outbound"):
            for kind in ("direct", "relayed"):
                conns.add_metric([direction, kind], counts.get((direction, kind), 0))
        yield conns
        yield _gauge("peerkit_streams", "Open peerkit session streams.", stats.get("channels", 0))
        yield _gauge(
            "peerkit_queued_reply_bytes",
            "Reply bytes waiting for peers to read them.",
            stats.get("queued_bytes", 0),
        )
        yield _counter(
            "peerkit_wire_errors",
            "Frames refused (malformed, oversized).",
            stats.get("wire_errors", 0),
        )
        yield _counter(
            "peerkit_internal_errors",
            "Unexpected errors caught at the network boundary.",
            stats.get("internal_errors", 0),
        )
        limited = CounterMetricFamily(
            "peerkit_limited",
            "What limits refused, dropped or closed, by reason.",
            labels=["reason"],
        )
        reasons = {
            k.removeprefix("refused_"): v for k, v in stats.items() if k.startswith("refused_")
        }
        reasons |= {k: v for k, v in stats.items() if k.startswith("gossip_dropped_")}
        reasons |= dict(router.limited)
        for reason, n in sorted(reasons.items()):
            limited.add_metric([reason], n)
        yield limited

        yield from _by_type(
            "peerkit_messages_in", "Messages received, by type.", router.messages_in
        )
        yield from _by_type("peerkit_messages_out", "Messages sent, by type.", router.messages_out)
        yield from _by_type(
            "peerkit_events_dropped", "Events dropped (full mailbox, bad payload).", router.dropped
        )

        latency = HistogramMetricFamily(
            "peerkit_request_duration_seconds",
            "Time from a request's arrival to its answer, by type and handler.",
            labels=["type", "handler"],
        )
        requests = CounterMetricFamily(
            "peerkit_requests",
            "Requests answered, by type and handler.",
            labels=["type", "handler"],
        )
        for (label, handler), hist in sorted(router.requests.latency.items()):
            latency.add_metric([label, handler], hist.cumulative(), hist.sum)
            requests.add_metric([label, handler], hist.count)
        yield latency
        yield requests
        errors = CounterMetricFamily(
            "peerkit_request_errors",
            "Requests answered with an error, by type and error code.",
            labels=["type", "code"],
        )
        for (label, code), n in sorted(router.requests.errors.items()):
            errors.add_metric([label, code], n)
        yield errors

        actors = node.supervisor.stats()
        depth = GaugeMetricFamily(
            "peerkit_mailbox_depth", "Messages waiting in an actor's mailbox.", labels=["actor"]
        )
        restarts = CounterMetricFamily(
            "peerkit_actor_restarts", "Restarts by the supervisor.", labels=["actor"]
        )
        busy = CounterMetricFamily(
            "peerkit_actor_busy_seconds", "Time spent in an actor's handlers.", labels=["actor"]
        )
        handled = CounterMetricFamily(
            "peerkit_actor_messages", "Messages an actor has handled.", labels=["actor"]
        )
        for a in actors:
            name = str(a["name"])
            depth.add_metric([name], _number(a["mailbox"]))
            restarts.add_metric([name], _number(a["restarts"]))
            busy.add_metric([name], _number(a["busy_seconds"]))
            handled.add_metric([name], _number(a["handled"]))
        yield from (depth, restarts, busy, handled)

        size = self._store_file_bytes()
        if size is not None:
            yield _gauge(
                "peerkit_store_file_bytes", "Bytes of the block store's file on disk.", size
            )

    def _store_file_bytes(self) -> int | None:
        """The SQLite file's size: one stat, not a scan of the block table on the event loop
        at every scrape (counting the blocks of a store of gigabytes takes seconds)."""
        if not self.node.has("storage") or not self.node.running:
            return None
        from ..storage.extension import StorageExtension

        ext = self.node.extension(StorageExtension)
        path = getattr(ext.store, "path", None) if ext is not None else None
        if path is None:
            return None  # a memory store
        try:
            return int(path.stat().st_size)
        except OSError:
            return None


def _ready(node: Node) -> bool:
    from .app import is_ready

    return is_ready(node)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, text, value=value)


def _by_type(name: str, text: str, counts: dict[str, int]) -> Iterator[Metric]:
    family = CounterMetricFamily(name, text, labels=["type"])
    for tag, n in sorted(counts.items()):
        family.add_metric([tag], n)
    yield family
