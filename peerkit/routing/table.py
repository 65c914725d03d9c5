"""The Kademlia routing table (pure): who we know, by XOR distance from us.

Keys are 256-bit: the SHA-256 of a peer id, of a CID's bytes, of a name (``key_for``). Peers
sit in one bucket per shared-prefix length with our own key, at most ``k`` each. A full bucket
keeps its peers (those that stayed long are the likeliest to stay: Kademlia's bet) and
takes a newcomer only in place of one that stopped answering.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

K = 20  # bucket size, and how many closest peers a lookup ends with
KEY_BITS = 256


def key_for(kind: str, value: str | bytes) -> bytes:
    """The 32-byte DHT key of a peer ("peer", its id), a block ("cid", its bytes) or a name
    record ("name", the name)."""
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(kind.encode() + b"\0" + raw).digest()


def distance(a: bytes, b: bytes) -> int:
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


@dataclass
class Contact:
    peer: str
    addrs: list[str]
    key: bytes = b""
    #: requests in a row it did not answer (reset by any answer)
    failures: int = 0
    last_seen: float = 0.0

    def __post_init__(self) -> None:
        if not self.key:
            self.key = key_for("peer", self.peer)


@dataclass
class RoutingTable:
    me: str
    k: int = K
    #: a contact this many failures in a row is let go when its bucket needs the room
    stale_after: int = 2
    _key: bytes = b""
    _buckets: list[OrderedDict[str, Contact]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._key = key_for("peer", self.me)
        self._buckets = [OrderedDict() for _ in range(KEY_BITS + 1)]

    def _bucket(self, key: bytes) -> OrderedDict[str, Contact]:
        d = distance(self._key, key)
        return self._buckets[KEY_BITS - d.bit_length()]  # shared prefix length

    def seen(self, peer: str, addrs: list[str], now: float) -> bool:
        """``peer`` answered us (or asked us): add or refresh it. False when its bucket is
        full of peers that still answer (the newcomer is not kept)."""
        if peer == self.me:
            return False
        contact = Contact(peer, addrs, last_seen=now)
        bucket = self._bucket(contact.key)
        known = bucket.get(peer)
        if known is not None:
            known.failures = 0
            known.last_seen = now
            if addrs:
                known.addrs = addrs
            bucket.move_to_end(peer)
            return True
        if len(bucket) >= self.k:
            stale = next((c for c in bucket.values() if c.failures >= self.stale_after), None)
            if stale is None:
                return False
            del bucket[stale.peer]
        bucket[peer] = contact
        return True

    def failed(self, peer: str) -> None:
        """``peer`` did not answer a request."""
        contact = self.get(peer)
        if contact is not None:
            contact.failures += 1

    def remove(self, peer: str) -> None:
        self._bucket(key_for("peer", peer)).pop(peer, None)

    def get(self, peer: str) -> Contact | None:
        return self._bucket(key_for("peer", peer)).get(peer)

    def closest(
        self, key: bytes, n: int | None = None, exclude: str | None = None
    ) -> list[Contact]:
        """The ``n`` (default ``k``) contacts closest to ``key``, closest first."""
        everyone = [c for b in self._buckets for c in b.values() if c.peer != exclude]
        everyone.sort(key=lambda c: distance(c.key, key))
        return everyone[: n or self.k]

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets)

    def peers(self) -> list[str]:
        return [p for b in self._buckets for p in b]
