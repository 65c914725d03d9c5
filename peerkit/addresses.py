"""Addresses: what a peer listens on, what it tells others, and what can be dialled.

Three different things (libp2p's own split):

- **listen** addresses are where sockets are bound; ``0.0.0.0`` / ``::`` mean "every
  interface" and can never be dialled by anyone else;
- **announced** addresses are what others are told: the listen addresses with the unspecified
  ones expanded to this machine's interface addresses, plus what ``announce:`` in peer.yaml
  adds (a pod's service address, a host behind port forwarding);
- **dialable** addresses name a peer: a transport address and ``/p2p/<peer id>``.

Checked strictly: a malformed address is an AddressError saying what is wrong (the
boundaries turn it into a ConfigError naming the file and line, or a DialFailed), never a
traceback from the multiaddr library.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import time
from dataclasses import dataclass

import multiaddr
import psutil


class AddressError(ValueError):
    """An address that is malformed or cannot be used here (``hint`` says what would do)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


#: the transports a peer can listen on: TCP, optionally with WebSocket on top
_LISTEN_FORMS = ("tcp",)


@dataclass(frozen=True)
class TcpAddress:
    """A parsed ``/ip4|ip6|dns4|dns6|dns/<host>/tcp/<port>[/ws][/p2p/<id>]`` address."""

    family: str  # ip4, ip6, dns4, dns6, dns
    host: str
    port: int
    ws: bool = False
    peer_id: str | None = None

    def multiaddr(self, *, with_peer: bool = True) -> str:
        text = f"/{self.family}/{self.host}/tcp/{self.port}" + ("/ws" if self.ws else "")
        if with_peer and self.peer_id:
            text += f"/p2p/{self.peer_id}"
        return text

    @property
    def unspecified(self) -> bool:
        return self.family in ("ip4", "ip6") and ipaddress.ip_address(self.host).is_unspecified


def parse(addr: str, *, what: str = "address") -> TcpAddress:
    """A multiaddr this peer can use; AddressError saying what is wrong otherwise."""
    if not isinstance(addr, str) or not addr.startswith("/"):
        raise AddressError(
            f"{what} {addr!r} is not a multiaddr",
            hint="write it like /ip4/192.0.2.10/tcp/4001 (add /p2p/<peer id> to dial a peer)",
        )
    try:
        parts = multiaddr.Multiaddr(addr).items()
    except Exception as exc:  # the library raises several unrelated types
        raise AddressError(
            f"{what} {addr!r} is not a valid multiaddr: {exc}",
            hint="write it like /ip4/192.0.2.10/tcp/4001",
        ) from None
    names = [proto.name for proto, _ in parts]
    values = [value for _, value in parts]
    peer_id = None
    if names and names[-1] == "p2p":
        peer_id = str(values[-1])
        names, values = names[:-1], values[:-1]
    ws = bool(names) and names[-1] == "ws"
    if ws:
        names, values = names[:-1], values[:-1]
    if (
        len(names) != 2
        or names[0] not in ("ip4", "ip6", "dns4", "dns6", "dns")
        or names[1] not in _LISTEN_FORMS
    ):
        raise AddressError(
            f"{what} {addr!r} is not a TCP address",
            hint="peerkit speaks /ip4|ip6|dns4|dns6/<host>/tcp/<port>, optionally with /ws",
        )
    return TcpAddress(names[0], str(values[0]), int(values[1]), ws, peer_id)


def parse_dialable(addr: str, *, what: str = "address") -> TcpAddress:
    """An address that names the peer to dial (ends in /p2p/<peer id>); a relayed one
    (``<relay address>/p2p-circuit/p2p/<peer id>``) is checked as the relay's address."""
    if "/p2p-circuit" in addr:
        relay, _, target = addr.partition("/p2p-circuit")
        relay_addr = parse_dialable(relay, what=f"{what}'s relay")
        peer = target.removeprefix("/p2p/")
        if not target.startswith("/p2p/") or "/" in peer or not peer:
            raise AddressError(
                f"{what} {addr!r} does not say which peer is behind the relay",
                hint="a relayed address is <relay address>/p2p-circuit/p2p/<peer id>",
            )
        return TcpAddress(relay_addr.family, relay_addr.host, relay_addr.port, relay_addr.ws, peer)
    parsed = parse(addr, what=what)
    if parsed.peer_id is None:
        raise AddressError(
            f"{what} {addr!r} does not say which peer is there",
            hint="end it with /p2p/<peer id> (`peerkit run --ready-json` prints full addresses)",
        )
    return parsed


#: how long the interfaces' addresses are taken as read (they change rarely; reading them is
#: the most expensive part of answering "what are your addresses", asked on every request
#: of the routing protocol)
INTERFACES_FOR = 10.0
_interfaces: tuple[float, dict[str, list[str]]] | None = None


def interface_addresses() -> dict[str, list[str]]:
    """This machine's addresses by family ("ip4", "ip6"), loopback last (what others on
    other machines can reach first). Read again at most every ``INTERFACES_FOR`` seconds."""
    return {family: list(addrs) for family, addrs in _interfaces_now()[1].items()}


def interfaces_read_at() -> float:
    """When the interfaces' addresses now taken as read were read (changes when they are
    read again): lets a caller keep what it derived from them until then."""
    return _interfaces_now()[0]


def _interfaces_now() -> tuple[float, dict[str, list[str]]]:
    global _interfaces
    now = time.monotonic()
    if _interfaces is None or now - _interfaces[0] > INTERFACES_FOR:
        _interfaces = (now, _read_interfaces())
    return _interfaces


def _read_interfaces() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"ip4": [], "ip6": []}
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family == socket.AF_INET:
                found["ip4"].append(entry.address)
            elif entry.family == socket.AF_INET6 and "%" not in entry.address:
                ip = ipaddress.ip_address(entry.address)
                if not ip.is_link_local:  # fe80:: needs a zone: not dialable as written
                    found["ip6"].append(entry.address)
    for family, addrs in found.items():
        found[family] = sorted(set(addrs), key=lambda a: (ipaddress.ip_address(a).is_loopback, a))
    return found


def announced(
    bound: list[str], announce: list[str], interfaces: dict[str, list[str]] | None = None
) -> list[str]:
    """What to tell others: ``announce`` first, then the bound addresses, each unspecified
    one expanded to the interface addresses of its family. No duplicates; never 0.0.0.0."""
    interfaces = interfaces if interfaces is not None else interface_addresses()
    out: list[str] = []
    for addr in announce:
        out.append(parse(addr, what="announce address").multiaddr(with_peer=False))
    for addr in bound:
        parsed = parse(addr, what="listen address")
        if parsed.unspecified:
            for host in interfaces.get(parsed.family, []):
                out.append(
                    TcpAddress(parsed.family, host, parsed.port, parsed.ws).multiaddr(
                        with_peer=False
                    )
                )
        else:
            out.append(parsed.multiaddr(with_peer=False))
    return list(dict.fromkeys(out))


def port_in_use(addr: str) -> str | None:
    """Why a TCP listen address cannot be bound now (None: it can, or port 0).

    py-libp2p binds with SO_REUSEPORT, so a second peer on the same port would start silently
    and split the connections with the first; a plain bind (no SO_REUSEPORT) fails while any
    other socket listens there.
    """
    parsed = parse(addr, what="listen address")
    if parsed.port == 0 or parsed.family not in ("ip4", "ip6"):
        return None
    family = socket.AF_INET if parsed.family == "ip4" else socket.AF_INET6
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((parsed.host, parsed.port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "another program (or another peer) listens there"
            if exc.errno == errno.EADDRNOTAVAIL:
                return "no interface of this machine has that address"
            if exc.errno == errno.EACCES:
                return "ports below 1024 need privileges"
            return exc.strerror or str(exc)
    return None


@functools.lru_cache(maxsize=16384)
def names_peer(addr: str, peer: str) -> bool:
    """Whether ``addr`` is a usable address of ``peer`` (ends in /p2p/<peer>; the in-memory
    network of the tests has its own /memory/<name> form)."""
    if not addr.endswith(f"/p2p/{peer}"):
        return False
    if addr.startswith("/memory/"):
        return True
    try:
        parse_dialable(addr)
    except AddressError:
        return False
    return True


#: the range RFC 2544 sets aside for benchmarking networks: never routed on the internet, so
#: peerkit's network lab uses it as its "internet" (addresses there count as public)
LAB_INTERNET = ipaddress.ip_network("198.18.0.0/15")


def is_public(host: str) -> bool:
    """Whether an IP address can be reached from anywhere (or from anywhere in the lab)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_global or ip in LAB_INTERNET


def local_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks this machine's interfaces are on (a peer there can be dialled directly)."""
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6) and entry.netmask:
                try:
                    nets.append(
                        ipaddress.ip_network(f"{entry.address}/{entry.netmask}", strict=False)
                    )
                except ValueError:
                    continue
    return nets


def dial_order(
    addrs: list[str],
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None,
) -> list[str]:
    """A peer's addresses in the order worth trying: public ones and names first, then
    those on a network this machine is on (a LAN, loopback), then through relays, and last
    the private addresses of other networks (another home's 10.x: a dial there only times
    out). Stable within each rank."""
    networks = local_networks() if networks is None else networks
    return sorted(addrs, key=lambda addr: dial_rank(addr, networks))


def dial_rank(addr: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> int:
    """0: public or a name; 1: on one of ``networks`` (or loopback); 2: through a relay;
    3: a private address elsewhere, or nothing we can rank."""
    if "/p2p-circuit" in addr:
        return 2
    parts = addr.split("/")
    if len(parts) < 3:
        return 3
    if parts[1].startswith("dns"):
        return 0
    if is_public(parts[2]):
        return 0
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return 3
    if ip.is_loopback or any(ip in net for net in networks if net.version == ip.version):
        return 1
    return 3
