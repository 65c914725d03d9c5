"""A verified history of one name's records (pure; persisted by the naming actor on an
append-only log, peerkit.applog).

The head is kept, not searched for; the history held in memory is capped (the newest
``cap`` sequences): a name updated for years must not cost memory or time by its age.
"""

from __future__ import annotations

import bisect

from .records import Equivocation, NameRecord, RecordError


class NameRevoked(RecordError):
    code = "name_revoked"


class NameLog:
    def __init__(self, name: str, *, cap: int = 1000) -> None:
        self.name = name
        self.cap = cap
        self._by_seq: dict[int, NameRecord] = {}
        self._seqs: list[int] = []  # sorted
        self._head: NameRecord | None = None
        self.revoked_at: int | None = None

    def check(self, record: NameRecord) -> bool:
        """Whether ``record`` would be new here (False: already held). Raises what
        :meth:`add` would raise, and changes nothing (so it can be persisted first)."""
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
        # older than the history kept: nothing to add (a revocation always counts)
        return record.revoked or record.sequence >= self._floor()

    def head_after(self, record: NameRecord) -> NameRecord | None:
        """The head once ``record`` (checked new) is added."""
        head = self._head
        if record.revoked or head is None or record.better_than(head):
            return record
        return head

    def add(self, record: NameRecord) -> bool:
        """Add a verified record; True if it was new. Raises Equivocation for a different
        record with a sequence already seen, NameRevoked past a revocation."""
        if not self.check(record):
            return False
        self._head = self.head_after(record)
        self._by_seq[record.sequence] = record
        bisect.insort(self._seqs, record.sequence)
        if record.revoked:
            self.revoked_at = min(record.sequence, self.revoked_at or record.sequence)
            # records after a revocation that arrived before it are void
            while self._seqs and self._seqs[-1] > self.revoked_at:
                del self._by_seq[self._seqs.pop()]
        excess = len(self._seqs) - self.cap
        if excess > self.cap // 8:  # trimmed in bulk: amortised O(1) per record at any cap
            for seq in self._seqs[:excess]:  # the head has the highest sequence: never dropped
                del self._by_seq[seq]
            del self._seqs[:excess]
        return True

    def _floor(self) -> int:
        return self._seqs[-self.cap] if len(self._seqs) >= self.cap else -1

    def head(self) -> NameRecord | None:
        return self._head

    def at(self, sequence: int) -> NameRecord | None:
        record = self._by_seq.get(sequence)
        return record if record is not None and sequence >= self._floor() else None

    def history(self) -> list[NameRecord]:
        """The records kept, oldest sequence first (the newest ``cap``)."""
        return [self._by_seq[s] for s in self._seqs[-self.cap :]]

    @property
    def next_sequence(self) -> int:
        head = self._head
        return 0 if head is None else head.sequence + 1
