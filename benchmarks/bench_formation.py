"""Time for `peerkit up` to bring 10 peers to ready, and resident memory per peer (goal < 80 MB),
printed with the machine's load. (No baseline exists for this one: it is a budget.)

Measured first for one `peerkit run` on its own, without and with its gateway (formation
peers have one); then a formation, every peer its own process, then the six users sharing
processes three by three (``per_process: 3``); memory per peer = the RSS of all distinct
processes / peers. MB here are MiB (1,048,576 bytes), as /proc gives them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load

REPO = Path(__file__).resolve().parents[1]
FORMATION = """\
name: bench10
roles:
  rendezvous: {count: 1, rendezvous_point: true, config: {log_level: warning}}
  app-node:
    count: 3
    services: ["sample_app.services.greeter:Greeter"]
    config: {log_level: warning, rendezvous: {namespaces: [bench/nodes]}}
  user:
    count: 6
    per_process: PER_PROCESS
    config: {log_level: warning, rendezvous: {prefer: [bench/nodes]}}
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    print(f"# bench_formation ({load()})")
    for gateway in (False, True):
        one_peer(gateway)
    for per_process in (1, 3):
        run(per_process)


def one_peer(gateway: bool) -> None:
    """`peerkit run` of one peer: its RSS 3 s after it is ready, the median of three starts."""
    samples = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "peer.yaml"
            config.write_text(
                "name: one\nlog_level: warning\n"
                + ("gateway: {enabled: true}\n" if gateway else "")
            )
            proc = subprocess.Popen(
                [sys.executable, "-m", "peerkit", "run", "-c", str(config), "--ready-json"],
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                assert proc.stdout is not None
                if not proc.stdout.readline():
                    raise SystemExit("peerkit run did not become ready")
                time.sleep(3)  # as below: what it holds once started, not while starting
                samples.append(rss_mb(proc.pid))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
    label = "with its gateway" if gateway else "without a gateway"
    print(
        f"{'resident memory, one peer, ' + label:<44} {sorted(samples)[1]:6.1f} MB   (goal < 80 MB)"
    )


def run(per_process: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "formation.yaml").write_text(FORMATION.replace("PER_PROCESS", str(per_process)))
        state = folder / ".peerkit" / "formations" / "bench10" / "state.json"
        t0 = time.perf_counter()
        up = subprocess.Popen(
            [sys.executable, "-m", "peerkit", "up", "--quiet"],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                if state.exists():
                    s = json.loads(state.read_text())
                    if len(s["peers"]) == 10 and all(p["state"] == "ready" for p in s["peers"]):
                        break
                if time.perf_counter() - t0 > 120:
                    raise SystemExit("formation did not come up within 120 s")
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            time.sleep(3)  # let connections settle before reading memory
            pids = {p["pid"] for p in s["peers"]}
            rss = [rss_mb(pid) for pid in pids]
            label = f"users {per_process} per process"
            print(f"{'peerkit up: 10 peers ready, ' + label:<44} {elapsed:8.1f} s   ({load()})")
            print(
                f"{'resident memory per peer, ' + label:<44} mean {sum(rss) / 10:6.1f} MB"
                f"  ({len(pids)} processes, largest {max(rss):6.1f} MB)   (goal < 80 MB)"
            )
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(60)


if __name__ == "__main__":
    main()
