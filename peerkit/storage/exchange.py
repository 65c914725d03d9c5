"""Fetching a DAG from other peers: breadth-first, batched, concurrent, every block verified.

The protocol is our own ``storage.WantBlocks`` request on the peerkit session stream rather than
py-libp2p's bitswap: it reuses the stream, frame limits and typed errors every other message has,
verification happens in our code before anything is stored, and it needs no second trio
service. (docs/storage.md says more.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..blocks import CID, Block, links, verify
from .errors import BlockNotFound, BlockTooLarge, CorruptBlock, LimitExceeded
from .messages import MAX_WANT

Want = Callable[[str, list[CID]], Awaitable[list[tuple[bytes, bytes]]]]
Have = Callable[[list[CID]], Awaitable[list[bool]]]
Put = Callable[[list[Block]], Awaitable[None]]
LocalLinks = Callable[[list[CID]], Awaitable[list[CID]]]


@dataclass
class FetchLimits:
    max_block: int = 1024 * 1024
    max_bytes: int = 1 << 30
    max_depth: int = 1024
    concurrency: int = 4


@dataclass
class FetchReport:
    blocks: int = 0
    bytes: int = 0
    peers: set[str] = field(default_factory=set)


async def fetch_dag(
    root: CID,
    peers: list[str],
    *,
    want: Want,
    have: Have,
    put: Put,
    local_links: LocalLinks,
    limits: FetchLimits | None = None,
) -> FetchReport:
    """Fetch the blocks under ``root`` this peer lacks. Raises BlockNotFound, CorruptBlock,
    BlockTooLarge or LimitExceeded; nothing unverified is ever stored."""
    limits = limits or FetchLimits()
    if not peers:
        raise BlockNotFound(f"no peer to fetch {root.encode()} from", hint="connect to a peer")
    report = FetchReport()
    level: list[CID] = [root]
    seen: set[bytes] = {root.cid_bytes}
    depth = 0
    sem = asyncio.Semaphore(limits.concurrency)
    while level:
        depth += 1
        if depth > limits.max_depth:
            raise LimitExceeded(f"DAG under {root.encode()} is deeper than {limits.max_depth}")
        present = await have(level)
        wanted = [c for c, ok in zip(level, present, strict=True) if not ok]
        local = [c for c, ok in zip(level, present, strict=True) if ok]
        batches = [wanted[i : i + MAX_WANT] for i in range(0, len(wanted), MAX_WANT)]
        if depth == 1 and batches:
            # the root: asked of several peers at once (most connected peers do not have it,
            # and one slow peer must not hold the fetch up); the one that has it is asked
            # first for the rest of the DAG
            results = [await _first_to_have(batches[0], peers, want, limits)]
            holder = results[0][1]
            peers = [holder, *(p for p in peers if p != holder)]
        else:
            results = await asyncio.gather(
                *(_fetch_batch(b, peers, i, want, sem, limits) for i, b in enumerate(batches))
            )
        next_level: list[CID] = []
        for blocks, peer in results:
            for block in blocks:
                report.bytes += len(block.data)
                if report.bytes > limits.max_bytes:
                    raise LimitExceeded(
                        f"DAG under {root.encode()} is larger than {limits.max_bytes} bytes"
                    )
            await put(blocks)
            report.blocks += len(blocks)
            report.peers.add(peer)
            for block in blocks:
                next_level.extend(links(block))
        # Blocks we already had may still link to blocks we lack (a half-fetched DAG).
        if local:
            next_level.extend(await local_links(local))
        level = []
        for cid in next_level:
            if cid.cid_bytes not in seen:
                seen.add(cid.cid_bytes)
                level.append(cid)
    return report


#: peers asked for a DAG's root at once
ROOT_WAVE = 8


async def _first_to_have(
    batch: list[CID], peers: list[str], want: Want, limits: FetchLimits
) -> tuple[list[Block], str]:
    """The batch from the first peer that has all of it, asking ``ROOT_WAVE`` peers at a
    time; the others' answers are dropped once one has it."""
    errors: list[str] = []
    for start in range(0, len(peers), ROOT_WAVE):
        wave = peers[start : start + ROOT_WAVE]
        tasks = {
            asyncio.ensure_future(_fetch_batch(batch, [p], 0, want, None, limits)): p for p in wave
        }
        try:
            for done in asyncio.as_completed(tasks):
                try:
                    return await done
                except BlockNotFound as exc:
                    errors.append(str(exc).rpartition(": ")[2])
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    raise BlockNotFound(
        f"no peer had {batch[0].encode()}: " + "; ".join(errors),
        hint="connect to a peer that has it",
    )


async def _fetch_batch(
    batch: list[CID],
    peers: list[str],
    start: int,
    want: Want,
    sem: asyncio.Semaphore | None,
    limits: FetchLimits,
) -> tuple[list[Block], str]:
    """Get a batch from the first peer (round-robin from ``start``) that has all of it."""
    errors: list[str] = []
    async with sem or contextlib.nullcontext():
        for k in range(len(peers)):
            peer = peers[(start + k) % len(peers)]
            try:
                found = await want(peer, batch)
            except Exception as exc:  # a peer failing is a reason to try the next one
                errors.append(f"{peer[-8:]}: {exc}")
                continue
            by_cid = {}
            for cid_bytes, data in found:
                if len(data) > limits.max_block:
                    raise BlockTooLarge(
                        f"peer {peer[-8:]} sent a block of {len(data)} bytes"
                        f" (limit {limits.max_block})"
                    )
                by_cid[cid_bytes] = data
            if all(c.cid_bytes in by_cid for c in batch):
                # verify() raises CorruptBlock: a lying peer fails the fetch, nothing is stored
                try:
                    return [verify(c, by_cid[c.cid_bytes]) for c in batch], peer
                except CorruptBlock as exc:
                    raise CorruptBlock(f"peer {peer[-8:]} sent a corrupt block: {exc}") from None
            errors.append(f"{peer[-8:]}: lacks {sum(c.cid_bytes not in by_cid for c in batch)}")
    raise BlockNotFound(
        f"no peer had all of {len(batch)} block(s) (first {batch[0].encode()}): "
        + "; ".join(errors)
    )
