"""The CPU-bound figures counted in instructions (valgrind's callgrind), not timed.

On a shared 2-core machine one timed run of the same code differs from the next by 20-40%, so
a ratio near its goal (actor ask at 0.8x, the envelope at 0.6x) can land on either side of it
from run to run. Instructions executed do not vary with the machine's load: the same code and
input give the same count (within ~0.1% here). A count is not a time (it misses cache misses
and waits), so the timed figures stay the goals; this says whether a change or a miss is real.

Each side runs in its own process under callgrind, twice (``SMALL`` and ``LARGE`` operations),
and the difference divided by the operations is the cost of one operation: start-up, imports
and warm-up cancel out (what a side builds per operation outside its timer is counted: the
actor ask's Ping messages, ~1% of it). The ratio is the baseline's instructions over
peerkit's, comparable with the timed ratios (higher is better). Needs valgrind (Debian's
package); skipped without.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, report

SMALL, LARGE = 2_000, 12_000


def _with_count(module: str, count: str, fn: str) -> Callable[[int], object]:
    """Run ``module.fn()`` with ``module.<count>`` set to n (the benchmarks' own loops)."""

    def run(n: int) -> object:
        mod = _load(module)
        setattr(mod, count, n)
        result = getattr(mod, fn)()
        return asyncio.run(result) if asyncio.iscoroutine(result) else result

    return run


def _cids(side: str) -> Callable[[int], object]:
    def run(n: int) -> object:
        mod = _load("bench_storage")
        objs = (mod.OBJS * (n // len(mod.OBJS) + 1))[:n]
        return mod.cids_ours(objs) if side == "ours" else mod.cids_lib(objs)

    return run


def _load(name: str) -> ModuleType:
    __import__(name)
    return sys.modules[name]


#: figure -> (peerkit's side, the baseline's side, its timed goal)
FIGURES: dict[str, tuple[Callable[[int], object], Callable[[int], object], str]] = {
    "actor ask vs future ping-pong": (
        _with_count("bench_actor", "N_ASK", "actor_ask"),
        _with_count("bench_actor", "N_ASK", "bare_pingpong"),
        ">= 0.8x timed",
    ),
    "actor ask, 5 s timeout, vs ping-pong": (
        _with_count("bench_actor", "N_ASK", "actor_ask_timeout"),
        _with_count("bench_actor", "N_ASK", "bare_pingpong"),
        ">= 0.8x timed",
    ),
    "... ping-pong with a timer pending": (
        _with_count("bench_actor", "N_ASK", "actor_ask_timeout"),
        _with_count("bench_actor", "N_ASK", "bare_pingpong_timer_pending"),
        "info",
    ),
    "actor tell vs asyncio.Queue": (
        _with_count("bench_actor", "N", "actor_tell"),
        _with_count("bench_actor", "N", "bare_queue"),
        ">= 1.0x timed",
    ),
    "envelope round trip vs bare msgspec": (
        _with_count("bench_codec", "N", "ours"),
        _with_count("bench_codec", "N", "bare"),
        ">= 0.6x timed",
    ),
    "CIDs: make_block vs cbrrr": (_cids("ours"), _cids("lib"), ">= 0.8x timed"),
    "name record create+verify vs raw crypto": (
        _with_count("bench_naming", "N", "ours"),
        _with_count("bench_naming", "N", "raw_crypto"),
        ">= 0.8x timed",
    ),
    "request/reply round trip over libp2p": (
        _with_count("bench_libp2p", "ROUND_TRIPS", "peerkit_round_trips"),
        _with_count("bench_libp2p", "ROUND_TRIPS", "raw_round_trips"),
        ">= 0.83x (<= 1.2x as time)",
    ),
}

#: operations per run where the default sizes would take too long under callgrind (~50x slower)
SIZES: dict[str, tuple[int, int]] = {"request/reply round trip over libp2p": (200, 1_200)}


def count(figure: str, side: str, n: int) -> int:
    """Instructions one process executes running ``n`` operations of one side."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            figure,
            side,
            str(n),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts every run
        timeout=900,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed: {done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    print(f"# bench_instructions ({load()}; instructions per operation, callgrind)")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt install valgrind): skipped")
        return
    # Counts do not depend on the load, so the runs share the cores.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = {
            (figure, side, n): pool.submit(count, figure, side, n)
            for figure in FIGURES
            for side in ("ours", "base")
            for n in SIZES.get(figure, (SMALL, LARGE))
        }

        def per_operation(figure: str, side: str) -> float:
            small_n, large_n = SIZES.get(figure, (SMALL, LARGE))
            large, small = counts[figure, side, large_n], counts[figure, side, small_n]
            return (large.result() - small.result()) / (large_n - small_n)

        for figure, (_, _, goal) in FIGURES.items():
            ours = per_operation(figure, "ours")
            base = per_operation(figure, "base")
            # as rates, so the ratio reads like the timed ones (baseline instructions / ours)
            report(figure, 1e6 / ours, 1e6 / base, "op/Minstr", goal)
            print(f"{'':<44} peerkit {ours:>12,.0f} instr/op baseline {base:>12,.0f} instr/op")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        from peerkit.log import configure_logging

        configure_logging("warning")
        ours_side, base_side, _ = FIGURES[sys.argv[2]]
        (ours_side if sys.argv[3] == "ours" else base_side)(int(sys.argv[4]))
    else:
        main()
