"""What others store in our part of the DHT (pure): provider records and value records.

Both are bounded: per peer that stored them (a stranger cannot fill the table) and in all,
and both expire (their publishers republish, as IPFS does: providers every 12 h for 24 h,
values as their own records say). Values are validated before they are kept, by the
validator of their namespace (``names`` records by the naming family's); a value replaces
the one held only if its validator says it is better (a name's newer sequence).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import PeerkitError

#: how long a provider record lasts unless renewed (Kubo: 48 h, republished every 22 h)
PROVIDER_TTL = 24 * 3600.0


class RoutingError(PeerkitError):
    code = "routing"


class RecordRefused(RoutingError):
    code = "routing_record_refused"


@dataclass
class Provider:
    peer: str
    addrs: list[str]
    expires: float


@dataclass
class Value:
    raw: bytes
    stored_by: str
    expires: float


#: (key, raw record, now) -> the record's expiry (seconds, on the same clock); raises
#: RoutingError (or any PeerkitError) if the record is not valid for ``key``
Validate = Callable[[str, bytes, float], float]
#: (key, held raw, new raw) -> whether the new record replaces the held one
Better = Callable[[str, bytes, bytes], bool]


@dataclass
class Namespace:
    validate: Validate
    better: Better


@dataclass
class RecordStore:
    max_keys: int = 100_000
    max_per_peer: int = 1_000
    max_providers_per_key: int = 20
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    providers: OrderedDict[bytes, dict[str, Provider]] = field(default_factory=OrderedDict)
    values: OrderedDict[tuple[str, str], Value] = field(default_factory=OrderedDict)
    #: records each peer has stored here (providers and values together)
    charged: dict[str, int] = field(default_factory=dict)

    # --- providers ------------------------------------------------------------------------

    def add_provider(self, key: bytes, peer: str, addrs: list[str], now: float) -> None:
        held = self.providers.get(key)
        if held is None or peer not in held:
            self._room(peer)
        if held is None:
            if len(self.providers) >= self.max_keys:
                raise RecordRefused("this peer keeps no more provider records")
            held = self.providers[key] = {}
        if peer not in held:
            if len(held) >= self.max_providers_per_key:
                oldest = min(held.values(), key=lambda p: p.expires)
                del held[oldest.peer]
                self._uncharge(oldest.peer)
            self._charge(peer)
        held[peer] = Provider(peer, addrs, now + PROVIDER_TTL)
        self.providers.move_to_end(key)

    def get_providers(self, key: bytes, now: float) -> list[Provider]:
        held = self.providers.get(key, {})
        return [p for p in held.values() if p.expires > now]

    # --- values ---------------------------------------------------------------------------

    def put_value(self, namespace: str, key: str, raw: bytes, peer: str, now: float) -> bool:
        """Validate and keep; True if it is now the record held for ``key``."""
        ns = self.namespaces.get(namespace)
        if ns is None:
            raise RecordRefused(f"no records of kind {namespace!r} are kept here")
        expires = ns.validate(key, raw, now)  # raises if not valid
        held = self.values.get((namespace, key))
        if held is not None and held.raw != raw and not ns.better(key, held.raw, raw):
            return False
        if held is None:
            self._room(peer)
            if len(self.values) >= self.max_keys:
                raise RecordRefused("this peer keeps no more records")
            self._charge(peer)
        elif held.stored_by != peer:
            self._uncharge(held.stored_by)
            self._charge(peer)
        self.values[(namespace, key)] = Value(raw, peer, expires)
        self.values.move_to_end((namespace, key))
        return True

    def get_value(self, namespace: str, key: str, now: float) -> bytes | None:
        held = self.values.get((namespace, key))
        return held.raw if held is not None and held.expires > now else None

    # --- upkeep ---------------------------------------------------------------------------

    def expire(self, now: float) -> int:
        """Drop what has expired; how many records went."""
        gone = 0
        for key in list(self.providers):
            held = self.providers[key]
            for peer in [p for p, rec in held.items() if rec.expires <= now]:
                del held[peer]
                self._uncharge(peer)
                gone += 1
            if not held:
                del self.providers[key]
        for vkey in [k for k, v in self.values.items() if v.expires <= now]:
            self._uncharge(self.values.pop(vkey).stored_by)
            gone += 1
        return gone

    def _room(self, peer: str) -> None:
        if self.charged.get(peer, 0) >= self.max_per_peer:
            raise RecordRefused(
                f"{peer[-8:]} stores {self.max_per_peer} records here already",
                hint="records expire; the limit is per peer",
            )

    def _charge(self, peer: str) -> None:
        self.charged[peer] = self.charged.get(peer, 0) + 1

    def _uncharge(self, peer: str) -> None:
        left = self.charged.get(peer, 0) - 1
        if left > 0:
            self.charged[peer] = left
        else:
            self.charged.pop(peer, None)

    def __len__(self) -> int:
        return sum(len(h) for h in self.providers.values()) + len(self.values)
