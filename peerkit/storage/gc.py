"""Garbage collection in bounded steps, so a big store's GC never holds the peer's storage.

A collection marks what the pins reach, then sweeps the blocks present when it began, one id
range at a time. The storage actor runs one step at a time on the store's I/O thread, and
everything else the store does (puts, pins, reads) runs between two steps: a GC of 200,000 dead
blocks used to hold the storage actor for seconds, and requests queued behind it timed out.

What keeps it safe while writes and pins go on between steps:

- only blocks present when the collection began are candidates (ids up to ``horizon``);
- a block written again since ``written_before`` is young again, and each step reads the write
  times it sweeps by (``put`` then ``pin`` never loses the block in between);
- every step first looks at the pins, if any was added or moved since the last step (the
  store counts those): such a pin has its DAG marked before anything more is deleted (a pin
  removed keeps its blocks until the next GC).

A step is atomic with respect to the store's other work (one I/O thread; the memory store runs
on the event loop), so "look at the pins and write times, then delete" cannot be split by a new
pin or write.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

from ..blocks import CID, Block, links

if TYPE_CHECKING:
    from .store import BlockStore

#: the bounds of a step's size (blocks read or looked at)
STEP_RANGE = (200, 50_000)


@dataclass(frozen=True, slots=True)
class GCResult:
    removed: int
    freed_bytes: int
    kept: int


class Collection:
    """One garbage collection of ``store``: call :meth:`step` until it returns True (or
    :meth:`run` for all of it at once), then read :meth:`result`."""

    #: blocks read (marking) or looked at (sweeping) in the first step
    first_step = 2000
    #: how long a step should hold the store: each next step's size follows the last one's
    #: pace (None: every step is ``first_step``). Smaller steps cost more in all (each commits,
    #: and SQLite then rewrites the same pages of the CID index: 200,000 deletes took 4.4 s in
    #: steps of 2,000, 2.8 s in steps of 5,000, 1.3 s at once); larger ones make the puts and
    #: pins waiting behind a step wait longer.
    step_seconds: float | None = 0.1

    def __init__(self, store: BlockStore, written_before: float) -> None:
        self.store = store
        #: blocks written at or after this time are kept (now minus the grace period)
        self.written_before = written_before
        #: blocks to read or look at in the next step
        self.step_size = self.first_step
        #: the largest block id when the collection began: later blocks are never candidates
        self.horizon = store._high_water()
        #: CID bytes of every block a pin reaches (marked so far)
        self.keep: set[bytes] = set()
        self._marked_pins: dict[str, bytes] = {}
        self._pins_seen: int | None = None  # the store's count of pins set, when last listed
        self._to_mark: list[CID] = []
        self._swept_to = 0
        self.removed = 0
        self.freed_bytes = 0
        self.done = False

    def run(self) -> GCResult:
        while not self.step():
            pass
        return self.result()

    def step(self) -> bool:
        """Do one bounded piece of the collection; True when it is complete."""
        if self.done:
            return True
        began = perf_counter()
        self._follow_pins()
        if not self._mark():
            self._pace(began)  # a full step's worth marked
            return False  # sweep only once every pin's DAG is marked, in the same step
        if self._sweep():
            return True
        self._pace(began)
        return False

    def _pace(self, began: float) -> None:
        """Size the next step from how long this full one took."""
        elapsed = perf_counter() - began
        if self.step_seconds is None or elapsed <= 0:
            return
        low, high = STEP_RANGE
        self.step_size = max(low, min(high, int(self.step_size * self.step_seconds / elapsed)))

    def result(self) -> GCResult:
        return GCResult(removed=self.removed, freed_bytes=self.freed_bytes, kept=len(self.keep))

    def _follow_pins(self) -> None:
        pins_set = self.store._pins_set()  # read before listing: a pin set meanwhile shows next
        if pins_set == self._pins_seen:
            return  # listing 100,000 pins every step made a GC beside them 136 s, not 1
        self._pins_seen = pins_set
        for pin in self.store.pins():
            root = pin.root.cid_bytes
            if self._marked_pins.get(pin.name) != root:
                self._marked_pins[pin.name] = root
                self._to_mark.append(pin.root)

    def _mark(self) -> bool:
        """Mark up to a step's worth of blocks; True when nothing is left to mark."""
        stack, keep, get_data = self._to_mark, self.keep, self.store.get_data
        budget = self.step_size
        while stack and budget > 0:
            cid = stack.pop()
            if cid.cid_bytes in keep:
                continue
            budget -= 1
            data = get_data(cid)
            if data is None:
                continue
            keep.add(cid.cid_bytes)
            stack.extend(links(Block(cid, data)))
        return not stack

    def _sweep(self) -> bool:
        """Delete the unreached among the next range of old blocks; True when none are left."""
        rows = self.store._old_blocks(
            self._swept_to, self.horizon, self.written_before, self.step_size
        )
        if rows:
            self._swept_to = rows[-1][0]
            keep = self.keep
            doomed = [i for i, cid in rows if cid not in keep]
            if doomed:
                removed, freed = self.store._delete_ids(doomed)
                self.removed += removed
                self.freed_bytes += freed
        self.done = len(rows) < self.step_size
        return self.done
