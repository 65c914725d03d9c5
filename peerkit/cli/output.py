"""What the CLI prints for people: tables, progress with transfer rates, colour only where it
helps; plain text for pipes and `NO_COLOR`; JSON for scripts (``--json``).

rich renders it (tables, progress, and its own handling of NO_COLOR, FORCE_COLOR, TERM=dumb and
non-TTY output); the commands stay argparse, whose parser also gives shell completion (shtab).
A rewrite in click or typer would change every command's parsing for what rich alone gives.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

#: how many characters of a peer id the CLI, the logs and the dashboard show
SHORT_ID = 8


def short_id(peer_id: str) -> str:
    """The tail of a peer id (the head, 12D3KooW, is the same for every Ed25519 peer)."""
    return peer_id[-SHORT_ID:] if peer_id else "-"


def out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> None:
    """A table: boxed lightly on a terminal, and still aligned in a pipe."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out().print(table)


class Transfer:
    """Bytes moved so far (a progress bar on a terminal, nothing elsewhere), then a summary."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self.progress = progress
        self.task = task
        self.bytes = 0
        self.began = time.perf_counter()

    def advance(self, n: int) -> None:
        self.bytes += n
        if self.progress is not None:
            self.progress.update(self.task, completed=self.bytes)

    def rate(self) -> str:
        seconds = max(time.perf_counter() - self.began, 1e-6)
        return (
            f"{human_bytes(self.bytes)} in {seconds:.1f} s ({human_bytes(self.bytes / seconds)}/s)"
        )


@contextlib.contextmanager
def transfer(description: str, total: int | None) -> Iterator[Transfer]:
    console = err()
    if not console.is_terminal:
        yield Transfer(None, None)
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield Transfer(progress, task)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
