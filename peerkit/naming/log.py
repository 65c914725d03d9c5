"""A verified, append-only history of one name's records (pure; persisted by the naming actor)."""

from __future__ import annotations

from .records import Equivocation, NameRecord, RecordError


class NameRevoked(RecordError):
    code = "name_revoked"


class NameLog:
    def __init__(self, name: str) -> None:
        self.name = name
        self._by_seq: dict[int, NameRecord] = {}
        self.revoked_at: int | None = None

    def add(self, record: NameRecord) -> bool:
        """Append a verified record; True if it was new. Raises Equivocation for a different
        record with a sequence already seen, NameRevoked past a revocation."""
        if record.name != self.name:
            raise RecordError(f"record for {record.name} does not belong in the log of {self.name}")
        existing = self._by_seq.get(record.sequence)
        if existing is not None:
            if existing.raw != record.raw:
                raise Equivocation(
                    f"two different records with sequence {record.sequence} for {self.name}"
                )
            return False
        if self.revoked_at is not None and record.sequence > self.revoked_at:
            raise NameRevoked(f"{self.name} was revoked at sequence {self.revoked_at}")
        self._by_seq[record.sequence] = record
        if record.revoked:
            self.revoked_at = min(record.sequence, self.revoked_at or record.sequence)
            # records after a revocation that arrived before it are void
            for seq in [s for s in self._by_seq if s > self.revoked_at]:
                del self._by_seq[seq]
        return True

    def head(self) -> NameRecord | None:
        if not self._by_seq:
            return None
        return max(self._by_seq.values(), key=lambda r: (r.sequence, r.validity))

    def at(self, sequence: int) -> NameRecord | None:
        return self._by_seq.get(sequence)

    def history(self) -> list[NameRecord]:
        return [self._by_seq[s] for s in sorted(self._by_seq)]

    @property
    def next_sequence(self) -> int:
        head = self.head()
        return 0 if head is None else head.sequence + 1
