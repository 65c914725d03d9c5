"""A network lab on one Linux machine: the topologies peers meet in the world, for tests.

Network namespaces joined by veth pairs: an "internet" segment (a bridge, 198.18.0.0/15, the
range set aside for benchmarking networks) where public peers live, and homes: a LAN
(10.77.<n>.0/24) behind a router that does NAT with nftables. Links can be cut and healed.
Peers run inside namespaces as separate processes (``peerkit run``).

Nothing here can reach the machine's real networks: the namespaces have no link to the root
namespace and no default route out of 198.18.0.0/15; every namespace is removed on exit, even
when a test fails (and a lab left behind by a killed run is removed by the next one).

Needs root (or CAP_NET_ADMIN), ``ip`` (iproute2) and ``nft`` (nftables); :func:`unavailable`
says why not, so tests can skip with that reason::

    with NetLab() as lab:
        public = lab.public("app")
        home = lab.home("alice", nat="symmetric")
        peer = await lab.start_peer(home.host, config_path)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: NAT behaviours a home router can have (RFC 4787 terms)
Nat = Literal["port-restricted", "symmetric"]

_PREFIX = "pklab"


def unavailable() -> str | None:
    """Why the lab cannot run here (None: it can)."""
    if sys.platform != "linux":
        return "the network lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the network lab needs root (network namespaces, nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"the network lab needs `{tool}` (apt-get install iproute2 nftables)"
    return None


def _sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


@dataclass
class Host:
    """A namespace with one address: a public peer's machine, or a computer in a home."""

    ns: str
    address: str

    def run(self, *argv: str, check: bool = True) -> str:
        return _sh(*argv, ns=self.ns, check=check)


@dataclass
class Home:
    """A LAN behind a NAT router; ``host`` is the computer in it, ``public`` the router's
    address on the internet."""

    name: str
    router: Host
    host: Host
    public: str
    nat: Nat


@dataclass
class LabPeer:
    """A ``peerkit run`` process inside a namespace, ready (its ``--ready-json`` read)."""

    proc: asyncio.subprocess.Process
    peer_id: str
    addrs: list[str]
    _stderr: list[bytes] = field(default_factory=list)

    async def stop(self, timeout: float = 20.0) -> int:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode or 0


class LabAgent:
    """A driven peer (peerkit.testing.lab_agent): ``await agent.call("request", ...)``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr: list[bytes] = []
        self._lock = asyncio.Lock()
        #: the task reading its stderr (kept referenced)
        self.drain: asyncio.Future[None] | None = None

    async def call(self, op: str, wait: float = 60.0, **args: object) -> dict[str, object]:
        """Send one command (``args`` are its fields, ``timeout`` among them for network
        operations); its answer, within ``wait`` seconds: ``{"ok": ..., "ms": ...}`` or
        ``{"error": ..., "type": ...}``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), wait)
        if not line:
            tail = b"".join(self.stderr).decode(errors="replace")[-3000:]
            raise RuntimeError(f"the agent exited:\n{tail}")
        answer: dict[str, object] = json.loads(line)
        return answer

    async def ok(self, op: str, wait: float = 60.0, **args: object) -> object:
        """Like :meth:`call`, the result itself; AssertionError with the error otherwise."""
        answer = await self.call(op, wait, **args)
        if "error" in answer:
            raise AssertionError(f"{op} failed: {answer['type']}: {answer['error']}")
        return answer["ok"]

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await self.call("stop", wait=20)
            except (RuntimeError, TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
            if self.proc.returncode is None:
                self.proc.kill()
            await self.proc.wait()


class NetLab:
    def __init__(self) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        self.id = uuid.uuid4().hex[:6]  # also in (15-character) interface names
        # the owner's process id is in every namespace's name: another test run on this
        # machine tells a lab in use from one left behind by a killed run (_remove_stale_labs)
        self._ns_prefix = f"{_PREFIX}{os.getpid()}-{self.id}"
        self.inet = f"{self._ns_prefix}-inet"
        self._namespaces: list[str] = []
        self._next_public = 10
        self._homes = 0
        self._links = 0
        self._peers: list[LabPeer] = []
        self._agents: list[LabAgent] = []
        self._drains: set[asyncio.Future[None]] = set()  # stderr readers (kept referenced)

    # --- building -------------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        _remove_stale_labs()
        self._add_ns(self.inet)
        _sh("ip", "link", "add", "br0", "type", "bridge", ns=self.inet)
        _sh("ip", "link", "set", "br0", "up", ns=self.inet)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add_ns(self, name: str) -> None:
        _sh("ip", "netns", "add", name)
        self._namespaces.append(name)
        _sh("ip", "link", "set", "lo", "up", ns=name)

    def _veth(self, a_ns: str, a_if: str, b_ns: str, b_if: str) -> None:
        self._links += 1
        tmp_a, tmp_b = f"pk{self.id}a{self._links}", f"pk{self.id}b{self._links}"
        _sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
        _sh("ip", "link", "set", tmp_a, "netns", a_ns)
        _sh("ip", "link", "set", tmp_b, "netns", b_ns)
        _sh("ip", "link", "set", tmp_a, "name", a_if, ns=a_ns)
        _sh("ip", "link", "set", tmp_b, "name", b_if, ns=b_ns)
        _sh("ip", "link", "set", a_if, "up", ns=a_ns)
        _sh("ip", "link", "set", b_if, "up", ns=b_ns)

    def _on_internet(self, ns: str, ifname: str) -> str:
        """Plug ``ns`` into the internet bridge; returns its address there."""
        self._next_public += 1
        address = f"198.18.0.{self._next_public}"
        port = f"p{self._next_public}"
        self._veth(self.inet, port, ns, ifname)
        _sh("ip", "link", "set", port, "master", "br0", ns=self.inet)
        _sh("ip", "addr", "add", f"{address}/15", "dev", ifname, ns=ns)
        return address

    def public(self, name: str, *, firewall: bool = False) -> Host:
        """A machine on the internet, reachable by every other unless ``firewall`` (like a
        cloud VM whose security group lets nothing in: it has a public address, and only
        replies to what it sent come back)."""
        ns = f"{self._ns_prefix}-{name}"
        self._add_ns(ns)
        host = Host(ns, self._on_internet(ns, "eth0"))
        if firewall:
            _nft(
                ns,
                """
table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" ct state established,related accept
    iifname "eth0" drop
  }
}
""",
            )
        return host

    def home(self, name: str, nat: Nat = "port-restricted") -> Home:
        """A home: a computer on a LAN behind a NAT router on the internet.

        ``port-restricted``: Linux masquerading keeps the source port where it can (the same
        mapping for every destination) and lets in only replies to what went out; anything
        else from the internet is dropped without an answer, as home routers do (a reset would
        kill a hole punch whose first SYN arrives before the other side's).
        ``symmetric``: every new connection gets a random port (address- and port-dependent
        mapping), so a port learnt from one peer is useless to another: relays must carry
        the traffic.
        """
        self._homes += 1
        n = self._homes
        router_ns, host_ns = f"{self._ns_prefix}-{name}-gw", f"{self._ns_prefix}-{name}"
        self._add_ns(router_ns)
        self._add_ns(host_ns)
        public = self._on_internet(router_ns, "wan")
        self._veth(router_ns, "lan", host_ns, "eth0")
        _sh("ip", "addr", "add", f"10.77.{n}.1/24", "dev", "lan", ns=router_ns)
        _sh("ip", "addr", "add", f"10.77.{n}.2/24", "dev", "eth0", ns=host_ns)
        _sh("ip", "route", "add", "default", "via", f"10.77.{n}.1", ns=host_ns)
        # (through /proc, not sysctl: one tool less to install; /proc/sys/net is per namespace)
        _sh("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward", ns=router_ns)
        masquerade = "masquerade random" if nat == "symmetric" else "masquerade"
        rules = f"""
table ip nat {{
  chain postrouting {{ type nat hook postrouting priority 100; oifname "wan" {masquerade}; }}
}}
table ip filter {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }}
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }}
}}
"""
        _nft(router_ns, rules)
        return Home(name, Host(router_ns, public), Host(host_ns, f"10.77.{n}.2"), public, nat)

    def cut(self, home: Home) -> None:
        """Unplug the home from the internet (its router's WAN link goes down)."""
        _sh("ip", "link", "set", "wan", "down", ns=home.router.ns)

    def heal(self, home: Home) -> None:
        _sh("ip", "link", "set", "wan", "up", ns=home.router.ns)

    # --- peers ----------------------------------------------------------------------------

    async def start_peer(
        self,
        host: Host,
        config: Path,
        *,
        timeout: float = 30.0,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> LabPeer:
        """Run ``peerkit run -c config --ready-json`` inside ``host``; wait until ready."""
        proc = await asyncio.create_subprocess_exec(
            *self.command(host, [sys.executable, "-m", "peerkit", "run", "-c", str(config)]),
            "--ready-json",
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        except TimeoutError:
            proc.kill()
            raise RuntimeError(f"the peer in {host.ns} was not ready in {timeout} s") from None
        if not line:
            err = await proc.stderr.read()
            raise RuntimeError(f"the peer in {host.ns} exited: {err.decode()[-2000:]}")
        ready = json.loads(line)
        peer = LabPeer(proc, ready["peer_id"], ready["addrs"])
        self._drains.add(asyncio.ensure_future(_drain(proc.stderr, peer._stderr)))
        self._peers.append(peer)
        return peer

    async def start_agent(self, host: Host, *, cwd: Path | None = None) -> LabAgent:
        """A peer inside ``host`` that the test drives (peerkit.testing.lab_agent)."""
        agent = await _spawn_agent(self.command(host, _AGENT), cwd)
        self._agents.append(agent)
        return agent

    @staticmethod
    def command(host: Host, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside ``host``'s namespace."""
        return ["ip", "netns", "exec", host.ns, *argv]

    # --- teardown -------------------------------------------------------------------------

    def close(self) -> None:
        for proc in [p.proc for p in self._peers] + [a.proc for a in self._agents]:
            if proc.returncode is None:
                proc.kill()
        for ns in reversed(self._namespaces):
            _sh("ip", "netns", "del", ns, check=False)
        self._namespaces.clear()


async def local_agent(*, cwd: Path | None = None) -> LabAgent:
    """A driven agent on this machine's own network (no namespace, no root): peers that share
    a process, for formations on one machine (``await agent.stop()`` when done)."""
    return await _spawn_agent(_AGENT, cwd)


_AGENT = [sys.executable, "-m", "peerkit.testing.lab_agent"]


async def _spawn_agent(argv: Sequence[str], cwd: Path | None) -> LabAgent:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    agent = LabAgent(proc)
    assert proc.stderr is not None
    agent.drain = asyncio.ensure_future(_drain(proc.stderr, agent.stderr))
    return agent


def _nft(ns: str, rules: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"],
        input=rules,
        text=True,
        check=True,
        capture_output=True,
        timeout=30,
    )


async def _drain(stream: asyncio.StreamReader, into: list[bytes]) -> None:
    while chunk := await stream.read(65536):
        into.append(chunk)
        del into[:-64]  # the tail is enough to say why a peer died


def _remove_stale_labs() -> None:
    """Namespaces of a lab whose run was killed before it could clean up."""
    for line in _sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(_PREFIX) and _left_behind(name) and not _owned_by_live_process(name):
            _sh("ip", "netns", "del", name, check=False)


def _left_behind(name: str) -> bool:
    """Whether the process that made lab namespace ``name`` is gone. A lab being built has no
    process inside its namespaces yet: without this, a second test run on the same machine
    deleted the first one's namespaces under it."""
    owner = name[len(_PREFIX) :].split("-", 1)[0]
    if not owner.isdigit():
        return True  # a name from before owners were recorded
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _owned_by_live_process(name: str) -> bool:
    """Whether a process still runs inside ``name`` (another lab in use right now)."""
    return bool(_sh("ip", "netns", "pids", name, check=False).strip())
