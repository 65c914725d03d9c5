"""The rendezvous registry: pure, with an injected clock (the server side's core).

Follows the libp2p rendezvous protocol's rules: registrations carry a TTL (bounded), are
refreshed by registering again, expire on their own, and discovery pages through them with an
opaque cookie so a client only sees what is new since its last page. Limits are typed errors.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..errors import RemoteError

MAX_NAMESPACE = 255
MIN_TTL = 5.0  # seconds (libp2p rendezvous: 2 h default, 72 h max; we allow short ones for apps)
MAX_TTL = 72 * 3600.0
MAX_PER_PEER = 1000
MAX_PAGE = 1000


class RendezvousError(RemoteError):
    code = "rendezvous"


class InvalidNamespace(RendezvousError):
    code = "invalid_namespace"


class InvalidTTL(RendezvousError):
    code = "invalid_ttl"


class TooManyRegistrations(RendezvousError):
    code = "too_many_registrations"


class InvalidCookie(RendezvousError):
    code = "invalid_cookie"


@dataclass(frozen=True)
class Registration:
    namespace: str
    peer: str
    addrs: tuple[str, ...]
    expires: float
    serial: int  # increases with every (re-)registration: what cookies point into


class Registry:
    def __init__(self, *, max_per_peer: int = MAX_PER_PEER) -> None:
        self.max_per_peer = max_per_peer
        self._regs: dict[tuple[str, str], Registration] = {}
        self._serials = itertools.count(1)

    def register(
        self, namespace: str, peer: str, addrs: list[str], ttl: float, now: float
    ) -> Registration:
        check_namespace(namespace)
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise InvalidTTL(f"TTL {ttl}s is outside {MIN_TTL:g}..{MAX_TTL:g}s")
        self.expire(now)
        key = (namespace, peer)
        if key not in self._regs and self.count(peer) >= self.max_per_peer:
            raise TooManyRegistrations(
                f"{peer[-8:]} already holds {self.max_per_peer} registrations"
            )
        reg = Registration(namespace, peer, tuple(addrs), now + ttl, next(self._serials))
        self._regs[key] = reg
        return reg

    def unregister(self, namespace: str, peer: str) -> None:
        self._regs.pop((namespace, peer), None)

    def count(self, peer: str) -> int:
        return sum(1 for (_, p) in self._regs if p == peer)

    def expire(self, now: float) -> int:
        dead = [k for k, r in self._regs.items() if r.expires <= now]
        for k in dead:
            del self._regs[k]
        return len(dead)

    def discover(
        self, namespace: str, now: float, *, limit: int = 100, cookie: bytes = b""
    ) -> tuple[list[Registration], bytes]:
        """Registrations in ``namespace`` ("" = all) newer than ``cookie``, oldest first, and
        the cookie for the next page."""
        if namespace:
            check_namespace(namespace)
        limit = max(1, min(limit, MAX_PAGE))
        after = _parse_cookie(cookie, namespace)
        self.expire(now)
        found = sorted(
            (
                r
                for r in self._regs.values()
                if (not namespace or r.namespace == namespace) and r.serial > after
            ),
            key=lambda r: r.serial,
        )[:limit]
        last = found[-1].serial if found else after
        return found, _make_cookie(last, namespace)


def check_namespace(namespace: str) -> None:
    if not namespace or len(namespace.encode()) > MAX_NAMESPACE or not namespace.isprintable():
        raise InvalidNamespace(
            f"namespace {namespace[:40]!r} must be 1-{MAX_NAMESPACE} printable bytes"
        )


def _make_cookie(serial: int, namespace: str) -> bytes:
    return serial.to_bytes(8, "big") + namespace.encode()


def _parse_cookie(cookie: bytes, namespace: str) -> int:
    if not cookie:
        return 0
    if len(cookie) < 8 or cookie[8:] != namespace.encode():
        raise InvalidCookie("that cookie belongs to another namespace or is not a cookie")
    return int.from_bytes(cookie[:8], "big")
