"""Import py-libp2p without the optional parts peerkit never switches on.

py-libp2p 0.8.1's package ``__init__`` imports every transport and service it ships: QUIC and
WebTransport (aioquic, which pulls pyOpenSSL and service_identity), AutoTLS with its ACME client
(httpx, which pulls click, rich and pygments; requests, which pulls urllib3 and
charset_normalizer), mDNS discovery (zeroconf) and a Prometheus exporter (prometheus_client).
A peerkit host is TCP + Noise + yamux with relays and never calls any of them, yet importing
them was ~15 MB of what a peer keeps resident (a peer without its gateway: 102 -> 86 MB; the
issue's goal is < 80 MB; ``benchmarks/bench_formation.py`` gives the figure per peer). The
same goes for py-libp2p's own modules of the parts peerkit does without or replaces: the QUIC
transport, TLS and SECIO security, the mplex muxer, its Kademlia DHT and Bitswap (peerkit has
its own routing and block exchange), mDNS and the persistent peer stores: 107 of its 307
modules, ~4.7 MB more (a node started in code: 80.5 -> 75.8 MB).

So the first import of libp2p goes through :func:`import_libp2p`, which lends those
packages a stand-in for the duration of the import and takes the stand-ins out of
``sys.modules`` afterwards:

- py-libp2p's modules keep names bound to stand-ins; using one (calling it, instantiating a
  class made from it) raises :class:`UnusedLibp2pPart` naming the part, so a future code path
  that does need QUIC fails loudly instead of half-working;
- anyone importing ``requests``, ``httpx`` or ``libp2p.kad_dht`` later (an app's own service)
  gets the real package or module: a stand-in is never left where other code would find it;
- a package already imported before us is used as it is (nothing to save).

Some parts peerkit does use, py-libp2p imports eagerly but loads again where it uses them
(:data:`DEFERRED_PARTS`): its WebSocket transport (trio-websocket, wsproto, h11: ~2 MB) is
imported by ``libp2p.transport`` at start-up and then, again, inside the functions that build a
``/ws`` listener or dialler. Those get a stand-in for the first import only, so a peer that
never listens or dials over WebSocket never loads them, and one that does loads them then.

Two modules are replaced rather than left out (:data:`REPLACED_PARTS`). py-libp2p's RSA
keys, written on PyCryptodome, whose first import parses C declarations with cffi's pycparser
(0.1 s of every start, ~1 MB resident), become peerkit's on ``cryptography``, which every peer
loads anyway (``_libp2p_rsa.py``: same classes, same bytes; a peer with an RSA identity still
connects). Private networks (``libp2p.security.pnet``, a pre-shared key peerkit never sets)
were PyCryptodome's other user. multiaddr's DNS resolver module, which py-libp2p imports and
builds resolvers from at start-up, is replaced by one whose resolvers load it (and dnspython,
~2.6 MB) when first used: most peers never dial a DNS address (``_lazy_dns.py``).

If libp2p was imported before this module ran (a test that imports py-libp2p directly), the
full package stays: the stand-ins only ever apply to the first import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: What py-libp2p imports only for parts peerkit never enables, and what needs it: packages of
#: others, and py-libp2p's own modules (a name covers the modules below it).
UNUSED_PARTS = {
    "aioquic": "the QUIC and WebTransport transports",
    "zeroconf": "mDNS discovery",
    "httpx": "AutoTLS (its ACME client)",
    "requests": "AutoTLS (its certificate broker)",
    "prometheus_client": "Prometheus export of the resource manager's metrics",
    "libp2p.transport.quic": "QUIC transport",
    "libp2p.security.tls": "TLS security (peerkit hosts use Noise)",
    "libp2p.security.secio": "SECIO security (peerkit hosts use Noise)",
    "libp2p.security.pnet": "private networks (a pre-shared key; peerkit never sets one)",
    "libp2p.stream_muxer.mplex": "mplex muxer (peerkit hosts use yamux)",
    "libp2p.kad_dht": "Kademlia DHT (peerkit routes with its own, peerkit.routing)",
    "libp2p.bitswap": "Bitswap (peerkit fetches blocks over its own protocol)",
    "libp2p.discovery.mdns": "mDNS discovery",
    "libp2p.peer.persistent": "persistent peer stores (SQLite, LevelDB, RocksDB)",
}


#: What py-libp2p imports at start-up but imports again, inside functions, where it uses it: the
#: real module loads on first use (the stand-in only ever stood in for the first import)
DEFERRED_PARTS = {
    # a /ws listen address or WebSocket dial: libp2p.new_host and the transport manager import
    # the transport (and trio_websocket with it) when they build one
    "libp2p.transport.websocket": "WebSocket transport",
}


#: modules py-libp2p imports, replaced by peerkit's own with the same names and behaviour (loaded
#: under the replaced module's name, and left there: they are what py-libp2p uses from then on)
REPLACED_PARTS = {
    # PyCryptodome's first import parses C declarations (cffi, pycparser): 0.1 s and ~1 MB
    "libp2p.crypto.rsa": "peerkit._transport._libp2p_rsa",
    # multiaddr's DNS resolver, with dnspython (~2.6 MB), loaded when first used
    "multiaddr.resolvers.dns": "peerkit._transport._lazy_dns",
}


class UnusedLibp2pPart(RuntimeError):
    """A py-libp2p code path peerkit does not load was called."""


class _StandInMeta(type):
    """Any attribute of a stand-in is the stand-in itself, so module-level code such as
    ``from aioquic.quic.events import StreamDataReceived`` or ``class L(ServiceListener)`` works
    at import time; calling it is where it fails."""

    _part: str = ""
    _deferred: bool = False

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._deferred:
            raise UnusedLibp2pPart(
                f"py-libp2p's {cls._part} loads on first use: import it from its own module, "
                "not through a name bound while py-libp2p was first imported; see "
                "peerkit/_transport/_lean_libp2p.py"
            )
        raise UnusedLibp2pPart(
            f"py-libp2p's {cls._part} is not loaded by peerkit (peerkit hosts use TCP, Noise, "
            "yamux and relays); see peerkit/_transport/_lean_libp2p.py"
        )

    def __getitem__(cls, item: Any) -> Any:  # generic aliases in annotations
        return cls

    def __or__(cls, other: Any) -> Any:  # ``X | None`` in evaluated annotations
        return cls

    __ror__ = __or__


class _StandInModule(types.ModuleType):
    def __init__(self, name: str, stand_in: type) -> None:
        super().__init__(name)
        self.__path__: list[str] = []  # a package, so ``import pkg.sub`` finds us again
        self._stand_in = stand_in

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._stand_in


class _ReplacementFinder(importlib.abc.MetaPathFinder):
    """Finds a replaced module at our file, under py-libp2p's name."""

    def __init__(self, parts: dict[str, str]) -> None:
        self.parts = parts

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        ours = self.parts.get(name)
        if ours is None:
            return None
        origin = importlib.util.find_spec(ours)  # found, not imported: it runs once, as `name`
        assert origin is not None and origin.origin is not None
        return importlib.util.spec_from_file_location(name, origin.origin)


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, parts: dict[str, str]) -> None:
        self.parts = parts
        self.made: list[str] = []

    def _prefix(self, name: str) -> str | None:
        """The part ``name`` belongs to (a part's name covers the modules below it)."""
        for prefix in self.parts:
            if name == prefix or name.startswith(prefix + "."):
                return prefix
        return None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if self._prefix(name) is None:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        prefix = self._prefix(spec.name)
        assert prefix is not None  # found by find_spec
        stand_in = _StandInMeta(
            f"Unloaded[{spec.name}]",
            (),
            {"_part": self.parts[prefix], "_deferred": prefix in DEFERRED_PARTS},
        )
        self.made.append(spec.name)
        return _StandInModule(spec.name, stand_in)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


@contextmanager
def _stand_ins(parts: dict[str, str], replaced: dict[str, str]) -> Iterator[None]:
    absent = {name: part for name, part in parts.items() if name not in sys.modules}
    finder = _StandInFinder(absent)
    replacements = _ReplacementFinder(replaced)
    sys.meta_path[:0] = [finder, replacements]
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.meta_path.remove(replacements)
        for name in finder.made:
            sys.modules.pop(name, None)


def import_libp2p() -> types.ModuleType:
    """py-libp2p's package, imported without :data:`UNUSED_PARTS` (nor, until first used,
    :data:`DEFERRED_PARTS`) if this is its first import."""
    if "libp2p" in sys.modules:
        return sys.modules["libp2p"]
    with _stand_ins({**UNUSED_PARTS, **DEFERRED_PARTS}, REPLACED_PARTS):
        import libp2p
    return libp2p


import_libp2p()
