"""Files and the content gateway, against baselines measured in the same run.

- `peerkit put` of a large file (UnixFS into SQLite) vs reading it, hashing every 256 KiB chunk
  and writing it to a plain file (the least any content-addressed store does); peak RSS of the
  command (goal < 100 MB whatever the size)
- `peerkit get` of it vs copying the plain file
- the gateway's GET of a 100 MB file over HTTP vs reading the same file from the store directly

PEERKIT_BENCH_FILE_MB sets the large file's size (default 1024).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aiohttp
import psutil
from _common import Timer, load, report

from peerkit import Node
from peerkit.config import parse_config
from peerkit.log import configure_logging

MIB = 1024 * 1024
SIZE_MB = int(os.environ.get("PEERKIT_BENCH_FILE_MB", "1024"))


def write_random(path: Path, mb: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as f:
        for i in range(mb):
            # distinct chunks (a repeated MiB would dedupe to 4 leaves)
            f.write(hashlib.sha256(i.to_bytes(8, "big")).digest() + block[32:])


def run_measured(args: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB, sampled every 20 ms) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-500:]}")
    return elapsed, peak / MIB


def hash_and_copy(src: Path, dst: Path) -> float:
    with Timer() as t, src.open("rb") as f, dst.open("wb") as out:
        while chunk := f.read(256 * 1024):
            hashlib.sha256(chunk).digest()
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return t.elapsed


def copy(src: Path, dst: Path) -> float:
    with Timer() as t, src.open("rb") as f, dst.open("wb") as out:
        while chunk := f.read(MIB):
            out.write(chunk)
    return t.elapsed


def cli_put_get(folder: Path) -> None:
    src = folder / "big.bin"
    write_random(src, SIZE_MB)
    (folder / "peer.yaml").write_text("name: bench\n")
    peerkit = [sys.executable, "-m", "peerkit"]
    put_s, put_rss = run_measured([*peerkit, "put", "big.bin"], folder)
    cid = subprocess.run(
        [*peerkit, "put", "big.bin"], cwd=folder, capture_output=True, check=True, text=True
    ).stdout.strip()  # again: the blocks are there, it only re-hashes
    get_s, get_rss = run_measured([*peerkit, "get", cid, "-o", "out.bin"], folder)
    assert (folder / "out.bin").stat().st_size == src.stat().st_size
    (folder / "out.bin").unlink()
    base_put = hash_and_copy(src, folder / "plain.bin")
    base_get = copy(folder / "plain.bin", folder / "out.bin")
    report(f"put {SIZE_MB} MB file (MB/s)", SIZE_MB / put_s, SIZE_MB / base_put, "MB/s", "-")
    report(f"get {SIZE_MB} MB file (MB/s)", SIZE_MB / get_s, SIZE_MB / base_get, "MB/s", "-")
    print(f"{'peak RSS of put / get':<44} {put_rss:,.0f} MB / {get_rss:,.0f} MB   (goal < 100 MB)")


async def gateway(folder: Path) -> None:
    source = folder / "gw" / "peer.yaml"
    source.parent.mkdir()
    text = "name: gw\nstorage: {backend: sqlite}\ngateway: {enabled: true}\n"
    node = Node(parse_config(text, source=str(source)))
    await node.start()
    try:
        src = folder / "hundred.bin"
        write_random(src, 100)
        cid = await node.storage.put_file(src, pin="bench")
        url = f"{node.gateway_url}/ipfs/{cid.encode()}"
        async with aiohttp.ClientSession() as http:
            ours, base = [], []
            for _ in range(3):
                with Timer() as t:
                    got = 0
                    async with http.get(url) as resp:
                        async for piece in resp.content.iter_chunked(MIB):
                            got += len(piece)
                assert got == 100 * MIB
                ours.append(t.elapsed)
                with Timer() as t:
                    got = sum(len(p) for p in node.storage.iter_file(cid))
                base.append(t.elapsed)
        report("gateway GET 100 MB (MB/s)", 100 / min(ours), 100 / min(base), "MB/s", "-")
    finally:
        await node.stop()


def main() -> None:
    configure_logging("warning")
    print(f"# files and the content gateway ({load()})")
    with tempfile.TemporaryDirectory() as tmp:
        cli_put_get(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(gateway(Path(tmp)))


if __name__ == "__main__":
    main()
