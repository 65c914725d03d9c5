"""Name records in the DHT: how the routing family validates and compares them (namespace
"names"; the key is the name). A record is kept only if it verifies for its name and has not
expired, and replaces a held one only if it is better (a higher sequence, or a revocation)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..routing.records import Namespace
from .records import verify_record

NAMESPACE = "names"
_EPOCH = datetime.fromtimestamp(0, UTC)


def names_namespace() -> Namespace:
    def validate(name: str, raw: bytes, now: float) -> float:
        record = verify_record(name, raw, now=datetime.fromtimestamp(now, UTC))
        return record.validity.timestamp()

    def better(name: str, held: bytes, new: bytes) -> bool:
        old = verify_record(name, held, now=_EPOCH, check_expiry=False)
        fresh = verify_record(name, new, now=_EPOCH, check_expiry=False)
        if old.revoked:
            return False  # a revocation is final
        return fresh.revoked or fresh.better_than(old)

    return Namespace(validate, better)
