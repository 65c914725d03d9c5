"""Start peers as separate OS processes (``python -m peerkit run``); wait until they are ready."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class PeerProcess:
    def __init__(
        self,
        folder: Path,
        name: str,
        *,
        services=(),
        bootstrap=(),
        port: int = 0,
        extra: str = "",
    ):
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.config = self.folder / "peer.yaml"
        lines = [
            f"name: {name}",
            f'listen: ["/ip4/127.0.0.1/tcp/{port}"]',
            "log_level: warning",
            "services: [" + ", ".join(f'"{s}"' for s in services) + "]",
            "bootstrap: [" + ", ".join(f'"{b}"' for b in bootstrap) + "]",
            extra,  # more peer.yaml, e.g. "gateway: {enabled: true}"
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: asyncio.subprocess.Process | None = None
        self.peer_id = ""
        self.addrs: list[str] = []
        self.stderr = b""
        self._logged: list[bytes] = []  # what it has logged so far, as it comes
        self.gateway = ""
        self._drain: asyncio.Future[None] | None = None

    async def start(self, timeout: float = 30.0) -> PeerProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "default",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "peerkit",
            "run",
            "-c",
            str(self.config),
            "--ready-json",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            self.proc.kill()
            raise AssertionError(f"{self.name} did not become ready within {timeout}s") from None
        if not line:
            _, err = await self.proc.communicate()
            raise AssertionError(f"{self.name} exited before ready:\n{err.decode()}")
        ready = json.loads(line)
        self.peer_id, self.addrs = ready["peer_id"], ready["addrs"]
        self.gateway = ready.get("gateway", "")
        # Read its log as it comes: a peer that logs more than a pipe holds (64 KiB) would
        # otherwise block on its next log line, and look hung.
        self._drain = asyncio.ensure_future(self._collect_stderr())
        return self

    async def _collect_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self._logged.append(chunk)
        self.stderr = b"".join(self._logged)

    def log_tail(self, size: int = 2000) -> str:
        """The end of what the peer has logged so far (while it runs)."""
        return b"".join(self._logged)[-size:].decode("utf-8", "replace")

    def rss_mib(self) -> float:
        """The process's resident memory now, in MiB (Linux /proc)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def addr(self) -> str:
        return self.addrs[0]

    async def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        drained = [self._drain] if self._drain is not None else []
        await asyncio.wait_for(asyncio.gather(self.proc.wait(), *drained), timeout)
        return self.proc.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def wait_killed(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        if self._drain is not None:
            await self._drain


async def peerkit_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``peerkit ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peerkit",
        *args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()
