"""The iterative Kademlia lookup (pure: the network is the ``query`` function it is given).

Ask the ``alpha`` closest peers not yet asked; each answer names peers closer to the key;
go on until the ``k`` closest known have all answered (or failed), or enough was found. It is
bounded in time (``deadline``), in peers asked (``max_queries``) and in hops (a peer learnt
from an answer is one hop further than the peer that named it); answers are bounded by their
message types, so bytes are bounded by ``max_queries``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .table import Contact, K, distance

ALPHA = 3


@dataclass
class Answer:
    closer: list[Contact] = field(default_factory=list)
    #: what the lookup is for (providers, records, the peer itself)
    found: list[Any] = field(default_factory=list)


Query = Callable[[Contact], Awaitable[Answer]]


@dataclass
class Lookup:
    closest: list[Contact]  # the k closest peers that answered, closest first
    found: list[Any]
    queried: int
    failed: int
    hops: int
    timed_out: bool = False


@dataclass
class _Candidate:
    contact: Contact
    hops: int
    state: str = "new"  # new, asking, answered, failed


async def lookup(
    key: bytes,
    seeds: list[Contact],
    query: Query,
    *,
    me: str | None = None,
    k: int = K,
    alpha: int = ALPHA,
    want: int = 0,
    deadline: float = 5.0,
    max_queries: int = 64,
    max_hops: int = 10,
) -> Lookup:
    """Run a lookup for ``key`` from ``seeds``; stop early once ``want`` things are found
    (0: run until the k closest have answered)."""
    candidates: dict[str, _Candidate] = {}
    for contact in seeds:
        if contact.peer != me:
            candidates.setdefault(contact.peer, _Candidate(contact, 0))
    found: list[Any] = []
    asked = failed = 0
    deepest = 0
    running: dict[asyncio.Task[Answer], _Candidate] = {}

    def by_distance() -> list[_Candidate]:
        return sorted(candidates.values(), key=lambda c: distance(c.contact.key, key))

    def next_to_ask() -> list[_Candidate]:
        live = [c for c in by_distance() if c.state != "failed"][:k]
        return [c for c in live if c.state == "new" and c.hops <= max_hops]

    timed_out = False
    try:
        async with asyncio.timeout(deadline):
            while True:
                if want and len(found) >= want:
                    break
                for cand in next_to_ask()[: max(0, alpha - len(running))]:
                    if asked >= max_queries:
                        break
                    cand.state = "asking"
                    asked += 1
                    task = asyncio.ensure_future(query(cand.contact))
                    task.add_done_callback(_seen)  # (one left running at the end is no loose end)
                    running[task] = cand
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    cand = running.pop(task)
                    error = task.exception()
                    if error is not None:
                        cand.state = "failed"
                        failed += 1
                        continue
                    cand.state = "answered"
                    deepest = max(deepest, cand.hops)
                    answer = task.result()
                    found.extend(answer.found)
                    for contact in answer.closer[:k]:
                        if contact.peer != me and contact.peer not in candidates:
                            candidates[contact.peer] = _Candidate(contact, cand.hops + 1)
    except TimeoutError:
        timed_out = True
    finally:
        for task in running:
            task.cancel()
    answered = [c.contact for c in by_distance() if c.state == "answered"][:k]
    return Lookup(answered, found, asked, failed, deepest, timed_out)


def _seen(task: asyncio.Task[Answer]) -> None:
    if not task.cancelled():
        task.exception()
