"""``peerkit up``: run every peer of a formation as its own process on this machine.

Rendezvous points start first; the others bootstrap to them. Each peer keeps its folder (config,
identity key, block store) under ``.peerkit/formations/<name>/``, so a restart keeps its peer id
and, for rendezvous points, its address. Logs are streamed with a coloured peer prefix; a status
table is printed when something changes; ``state.json`` lets ``peerkit status`` and
``peerkit down`` work from another terminal. A dashboard page shows the formation live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from ruamel.yaml import YAML

from ..errors import PeerkitError
from ..private_files import private_dir
from .spec import FormationSpec, PeerPlan, check_services, plan

COLOURS = ["36", "33", "35", "32", "34", "31", "96", "93", "95", "92"]
READY_TIMEOUT = 60.0


class FormationError(PeerkitError):
    code = "formation"


def workdir_for(spec: FormationSpec) -> Path:
    base = Path(spec.source).resolve().parent if spec.source else Path.cwd()
    return base / ".peerkit" / "formations" / spec.name


@dataclass
class PeerProc:
    plan: PeerPlan
    folder: Path
    colour: str
    proc: asyncio.subprocess.Process | None = None
    state: str = "pending"
    restarts: int = 0
    peer_id: str = ""
    addrs: list[str] = field(default_factory=list)
    gateway: str = ""
    status: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.plan.name


@dataclass
class ProcGroup:
    """One OS process and the peers it runs (one, unless the role sets ``per_process``)."""

    name: str
    peers: list[PeerProc]
    colour: str
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    log_task: asyncio.Task[None] | None = None

    @property
    def rendezvous_point(self) -> bool:
        return any(p.plan.rendezvous_point for p in self.peers)


class FormationRunner:
    def __init__(
        self,
        spec: FormationSpec,
        *,
        out: TextIO = sys.stdout,
        colour: bool | None = None,
        show_logs: bool = True,
        workdir: Path | None = None,
        json_logs: bool = False,
    ) -> None:
        self.spec = spec
        self.workdir = workdir or workdir_for(spec)
        self.out = out
        self.colour = out.isatty() if colour is None else colour
        self.show_logs = show_logs
        #: the peers log JSON lines, passed through as they are, and the runner's own news is
        #: JSON lines too (for a log collector rather than a person)
        self.json_logs = json_logs
        self.app_dir = Path(spec.source).resolve().parent if spec.source else Path.cwd()
        self.peers = [
            PeerProc(p, self.workdir / p.name, COLOURS[i % len(COLOURS)])
            for i, p in enumerate(plan(spec))
        ]
        self.groups: list[ProcGroup] = []
        for p in self.peers:
            process = p.plan.process or p.name
            if not self.groups or self.groups[-1].name != process:
                self.groups.append(ProcGroup(process, [], p.colour))
            self.groups[-1].peers.append(p)
        self._stopping = False
        self._shown: dict[str, dict[str, str]] = {}
        self.dashboard_url = ""
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        #: set once every peer is ready and the dashboard serves
        self.ready = asyncio.Event()

    def stop(self) -> None:
        """Ask a running ``up()`` to stop the formation (as SIGTERM would)."""
        self._stop.set()

    def peer(self, name: str) -> PeerProc:
        return next(p for p in self.peers if p.name == name)

    # --- output -----------------------------------------------------------------------

    def say(self, text: str, **fields: Any) -> None:
        """A line of the runner's own: text for a person, or a JSON event (``fields``)."""
        if self.json_logs:
            event = {
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "level": "info",
                "event": fields.pop("event", "formation.news"),
                "formation": self.spec.name,
                "message": text,
                **fields,
            }
            print(json.dumps(event), file=self.out, flush=True)
        else:
            print(text, file=self.out, flush=True)

    def _prefix(self, p: PeerProc | ProcGroup) -> str:
        label = f"{p.name:<14}|"
        return f"\x1b[{p.colour}m{label}\x1b[0m" if self.colour else label

    def table(self) -> str:
        rows = [("PEER", "ROLE", "STATE", "CONNS", "RESTARTS", "PID", "GATEWAY")]
        for p in self.peers:
            conns = str(p.status.get("connections", "-")) if p.state == "ready" else "-"
            if p.state == "ready" and p.status.get("relayed"):
                conns += f" ({p.status['relayed']} relayed)"
            pid = str(p.proc.pid) if p.proc and p.proc.returncode is None else "-"
            rows.append((p.name, p.plan.role, p.state, conns, str(p.restarts), pid, p.gateway))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )

    def _row(self, p: PeerProc) -> dict[str, str]:
        conns = str(p.status.get("connections", "-")) if p.state == "ready" else "-"
        pid = str(p.proc.pid) if p.proc and p.proc.returncode is None else "-"
        return {"state": p.state, "connections": conns, "restarts": str(p.restarts), "pid": pid}

    def _print_changes(self) -> None:
        """The whole table once, then only what changed: one line per peer that changed."""
        rows = {p.name: self._row(p) for p in self.peers}
        if not self._shown:
            self._shown = rows
            if self.json_logs:
                for p in self.peers:
                    self.say(
                        f"{p.name} {p.state}",
                        event="formation.peer",
                        peer=p.name,
                        role=p.plan.role,
                        gateway=p.gateway,
                        **rows[p.name],
                    )
            else:
                self.say(self.table())
            return
        for p in self.peers:
            old, new = self._shown[p.name], rows[p.name]
            if old == new:
                continue
            changes = ", ".join(f"{k} {old[k]} -> {v}" for k, v in new.items() if old[k] != v)
            if self.json_logs:
                self.say(
                    f"{p.name}: {changes}",
                    event="formation.peer",
                    peer=p.name,
                    role=p.plan.role,
                    gateway=p.gateway,
                    **new,
                )
            else:
                self.say(f"{self._prefix(p)} {changes}")
        self._shown = rows

    # --- lifecycle --------------------------------------------------------------------

    async def up(self, duration: float | None = None, *, handle_signals: bool = True) -> int:
        check_services(self.spec)  # a misspelled class: formation.yaml's line, before any start
        # .peerkit/ holds every peer's identity key and data: owner-only, each time
        for folder in (*reversed(self.workdir.parents[:2]), self.workdir):
            private_dir(folder)
        loop = asyncio.get_running_loop()
        stop = self._stop
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        dashboard = None
        try:
            t0 = time.perf_counter()
            points = [g for g in self.groups if g.rendezvous_point]
            for g in points:
                await self._start(g, bootstrap=[])
            boot = [p.addrs[0] for p in self.peers if p.plan.rendezvous_point and p.addrs]
            await asyncio.gather(
                *(self._start(g, bootstrap=boot) for g in self.groups if not g.rendezvous_point)
            )
            self.say(
                f"formation {self.spec.name}: {len(self.peers)} peers ready in"
                f" {time.perf_counter() - t0:.1f} s"
            )
            from .dashboard import Dashboard

            dashboard = Dashboard(self)
            await dashboard.start()
            self.dashboard_url = dashboard.url
            self.say(
                f"dashboard: {self.dashboard_url}   (peerkit status / peerkit down from"
                " another terminal)"
            )
            self._write_state()
            self._print_changes()
            self.ready.set()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._watch())]
            if duration is not None:
                waiters.append(asyncio.ensure_future(asyncio.sleep(duration)))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            self._stopping = True
            if dashboard is not None:
                await dashboard.stop()
            await self.down()
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            self._write_state(up=False)
        failed = [p for p in self.peers if p.state == "failed"]
        return 1 if failed else 0

    def _write_config(self, p: PeerProc, bootstrap: list[str]) -> Path:
        private_dir(p.folder)
        config = dict(p.plan.config)
        if not p.plan.rendezvous_point:
            config["bootstrap"] = bootstrap
        elif p.addrs:
            # keep a rendezvous point's address across restarts: the others dial it
            port = p.addrs[0].split("/tcp/")[1].split("/")[0]
            config["listen"] = [f"/ip4/127.0.0.1/tcp/{port}"]
        path = p.folder / "peer.yaml"
        with path.open("w") as f:
            YAML(typ="safe", pure=True).dump(config, f)
        return path

    async def _start(self, g: ProcGroup, bootstrap: list[str]) -> None:
        configs = [self._write_config(p, bootstrap) for p in g.peers]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # the app's modules: from formation.yaml's folder, and from where `peerkit up` was
            # run (a formation inside its package, as sample_app's, imports from the parent)
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(self.app_dir), os.getcwd(), os.environ.get("PYTHONPATH")])
            ),
        }
        for p in g.peers:
            p.state = "starting"
        g.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "peerkit",
            "run",
            *(arg for config in configs for arg in ("-c", str(config))),
            "--ready-json",
            *(["--json-logs"] if self.json_logs else []),
            cwd=self.app_dir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert g.proc.stdout is not None and g.proc.stderr is not None
        g.log_task = asyncio.ensure_future(self._stream_logs(g, g.proc.stderr))
        for p, config in zip(g.peers, configs, strict=True):
            p.proc = g.proc
            try:
                line = await asyncio.wait_for(g.proc.stdout.readline(), READY_TIMEOUT)
                ready = json.loads(line) if line else None
            except (TimeoutError, ValueError):
                ready = None
            if not ready:
                for q in g.peers:
                    q.state = "failed" if q.state == "starting" else q.state
                raise FormationError(
                    f"{p.name} did not become ready (see its log lines above)",
                    hint=f"its config is {config}",
                )
            p.peer_id, p.addrs, p.gateway = ready["peer_id"], ready["addrs"], ready["gateway"]
            p.state = "ready"
        self._changed.set()

    async def _stream_logs(self, g: ProcGroup, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            if not self.show_logs:
                continue
            text = line.decode(errors="replace").rstrip()
            if self.json_logs:
                print(text, file=self.out, flush=True)  # already a JSON line naming its peer
            else:
                self.say(f"{self._prefix(g)} {text}")

    async def _watch(self) -> None:
        """Restart crashed peers per the policy; refresh statuses; print the table on change."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                for g in self.groups:
                    exited = g.proc is not None and g.proc.returncode is not None
                    if exited and any(p.state == "ready" for p in g.peers):
                        await self._exited(g)
                for p in self.peers:
                    if p.state == "ready" and p.gateway:
                        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                            async with http.get(p.gateway + "/status") as r:
                                p.status = await r.json()
                self._write_state()
                self._print_changes()
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 1.0)

    async def _exited(self, g: ProcGroup) -> None:
        """A process ended: restart it (all its peers) as the policy says."""
        assert g.proc is not None
        code = g.proc.returncode
        policy = self.spec.restart
        wants = policy.policy == "always" or (policy.policy == "on-failure" and code != 0)
        self.say(f"{self._prefix(g)} exited with code {code}")
        if self._stopping or not wants or g.restarts >= policy.max_restarts:
            for p in g.peers:
                p.state = "failed" if code != 0 else "exited"
            return
        g.restarts += 1
        for p in g.peers:
            p.restarts = g.restarts
            p.state = "restarting"
        await asyncio.sleep(min(0.5 * 2 ** (g.restarts - 1), 5.0))
        boot = [q.addrs[0] for q in self.peers if q.plan.rendezvous_point and q.addrs]
        try:
            await self._start(g, bootstrap=boot)
        except FormationError as exc:
            self.say(f"{self._prefix(g)} restart failed: {exc}")

    async def down(self) -> None:
        for g in reversed(self.groups):
            if g.proc is not None and g.proc.returncode is None:
                g.proc.send_signal(signal.SIGTERM)
        for g in self.groups:
            if g.proc is None:
                continue
            try:
                await asyncio.wait_for(g.proc.wait(), 20)
            except TimeoutError:
                g.proc.kill()
                await g.proc.wait()
            if g.log_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(g.log_task, 2)
            for p in g.peers:
                if p.state == "ready":
                    p.state = "stopped"

    def _write_state(self, up: bool = True) -> None:
        state = {
            "name": self.spec.name,
            "up_pid": os.getpid() if up else None,
            "dashboard": self.dashboard_url if up else "",
            "peers": [
                {
                    "name": p.name,
                    "role": p.plan.role,
                    "state": p.state,
                    "restarts": p.restarts,
                    "pid": p.proc.pid if p.proc and p.proc.returncode is None else None,
                    "peer_id": p.peer_id,
                    "addrs": p.addrs,
                    "gateway": p.gateway,
                }
                for p in self.peers
            ],
        }
        tmp = self.workdir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.workdir / "state.json")


def read_state(spec: FormationSpec) -> dict[str, Any]:
    """The state of the formation running from this folder: formation.yaml's, or, when that
    one is not up (the file was edited since ``peerkit up``), the one that is."""
    path = workdir_for(spec) / "state.json"
    state: dict[str, Any] | None = None
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        pass
    if state is None or not alive(state.get("up_pid")):
        for other in sorted(path.parent.parent.glob("*/state.json")):
            try:
                candidate: dict[str, Any] = json.loads(other.read_text())
            except (OSError, ValueError):
                continue
            if alive(candidate.get("up_pid")):
                return candidate
    if state is None:
        raise FormationError(
            f"formation {spec.name} has never been started here", hint="run: peerkit up"
        )
    return state


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
