"""``peer.yaml``: the configuration of one peer.

Parsed with ruamel.yaml (which keeps line numbers) and validated by msgspec against
:class:`PeerConfig`; unknown keys and wrong types are errors that name the file and the line.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .bounds import MAX_DEPTH, too_deep
from .errors import ConfigError
from .wire import DEFAULT_MAX_FRAME

_MIB = 1024 * 1024
T = TypeVar("T")


class SupervisionConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    strategy: Literal["one_for_one", "one_for_all", "rest_for_one"] = "one_for_one"
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 5
    within: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    backoff: Annotated[float, msgspec.Meta(ge=0)] = 0.05
    backoff_max: Annotated[float, msgspec.Meta(ge=0)] = 2.0


class StorageConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    #: "auto": SQLite for a peer run from a peer.yaml, memory for nodes built in code (tests)
    backend: Literal["auto", "sqlite", "memory"] = "auto"
    #: the SQLite file, relative to the peer.yaml's folder
    path: str = "blocks.db"
    #: GC keeps unpinned blocks younger than this, so "put, then pin" is safe
    gc_grace: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    #: run GC this often (seconds of the node's clock; 0: only when asked). Logs leave their
    #: old heads behind on every append: this is what keeps the disk to the data kept.
    gc_every: Annotated[float, msgspec.Meta(ge=0)] = 600.0


class RendezvousConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: serve as a rendezvous point for other peers
    server: bool = False
    #: register this peer under these namespaces at the rendezvous points (bootstrap peers)
    namespaces: list[str] = msgspec.field(default_factory=list)
    #: connect to the peers registered under these namespaces and keep those connections
    prefer: list[str] = msgspec.field(default_factory=list)
    ttl: Annotated[float, msgspec.Meta(ge=5, le=72 * 3600)] = 60.0


class RoutingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The DHT (docs/routing.md): find content, names and peers beyond the connected ones."""

    #: take part: answer other peers' lookups and keep what they store (bounded below)
    enabled: bool = True
    #: run lookups on behalf of other peers (``routing.Delegate``; on for app nodes in
    #: formations): one round trip for users, whatever the DHT's size
    serve_delegated: bool = False
    #: records (providers and values) others may store here, in all and per peer
    max_records: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 100_000
    max_records_per_peer: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1_000
    #: how fast one peer may store records here (providers and values; the burst is as many)
    writes_per_peer_per_minute: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 600
    #: how long one lookup may take (seconds)
    lookup_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0


class NamingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: records of each name kept (newest sequences; the head always): what history and
    #: resolve-at can answer. The stored log is compacted to this when it grows past twice it.
    history: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1000
    #: names kept for users who delegated ``name/republish`` to this peer (an app node keeps
    #: what its users publish: the record, in the DHT too, and the content it names), per user
    keep_names_per_user: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 100
    #: bytes of content fetched and pinned for one user
    keep_bytes_per_user: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024 * 1024


class DcsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: let other peers drive this peer's documents with dcs.* control requests (the CLI's
    #: --via, tests); off by default: anyone who reaches the peer could edit as its user
    remote_control: bool = False
    #: keep sealed mail (invitations, key refreshes) and the encrypted streams of the
    #: documents it names for members who are offline, and hand them over when they appear
    #: (store and forward; bounded, and nothing kept is readable here). On for app nodes and
    #: rendezvous points; any peer may turn it on
    keep_for_others: bool = False


Did = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^did:(key:z[1-9A-HJ-NP-Za-km-z]{40,60}|pkh:eip155:1:0x[0-9a-fA-F]{40})$"
    ),
]


class AuthConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: DIDs whose delegations this peer honours for resources nobody owns (its storage, CIDs):
    #: e.g. the operator's wallet, did:pkh:eip155:1:0x...; empty: remote storage writes refused
    trusted: list[
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^did:(key:z[1-9A-HJ-NP-Za-km-z]{40,60}|pkh:eip155:1:0x[0-9a-fA-F]{40})$"
            ),
        ]
    ] = msgspec.field(default_factory=list)


class GatewayConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    #: on a host other than loopback everything but /health/* needs ``Authorization: Bearer
    #: <token>``; the token is read from this file (relative to peer.yaml), created 0600 with a
    #: random token if missing
    token_file: str = "gateway.token"
    #: content (/ipfs, /ipns) served to requests without the token: DAGs pinned under names
    #: that start with one of these (docs/gateway.md)
    public_pins: list[str] = msgspec.field(default_factory=lambda: ["public/"])
    #: a request for content this peer lacks fetches it from others up to this size...
    max_fetch_bytes: Annotated[int, msgspec.Meta(ge=1)] = 256 * 1024 * 1024
    #: ...and for this long
    fetch_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: web pages the gateway serves: URL prefix -> a folder (relative to peer.yaml) or a
    #: Python package holding the files (``{"/cms": "sample_app.cms"}``); ``/cms/`` serves its
    #: index.html
    pages: dict[str, str] = msgspec.field(default_factory=dict)


PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class RelayConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Circuit relay v2 (docs/network.md): carry connections for peers that cannot be
    dialled, and use relays when this peer cannot be dialled itself."""

    #: act as a relay (on for rendezvous points in formations): bounded by what follows
    serve: bool = False
    #: peers holding a reservation here at once
    max_reservations: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 128
    #: relayed connections open at once per reserved peer
    max_circuits: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 16
    #: how long one relayed connection may last (seconds) and carry (bytes); 0: no limit
    circuit_seconds: Annotated[int, msgspec.Meta(ge=0)] = 3600
    circuit_bytes: Annotated[int, msgspec.Meta(ge=0)] = 64 * 1024 * 1024
    #: reserve a slot at the relays this peer connects to (its bootstrap peers), and announce
    #: the relayed addresses: "auto" when none of its own addresses is public
    reserve: Literal["auto", "always", "never"] = "auto"
    #: upgrade relayed connections to direct ones where the NATs allow (DCUtR hole punching)
    hole_punch: bool = True


class LimitsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What any one stranger, and all of them together, may cost this peer (docs/limits.md).

    The defaults keep a peer on the open internet within ~100 MB whatever others send; raise
    them for an app node that serves many users, lower them on a small device."""

    # --- admission: who may connect, and how much they may open -----------------------------
    #: connections other peers open to us, all together (the table an attacker could fill)
    max_inbound_connections: PositiveInt = 192
    #: more connections kept for peers we dial ourselves (bootstrap, rendezvous, preferred),
    #: so a full inbound table never cuts a peer off from its app nodes
    reserved_outbound_connections: PositiveInt = 64
    #: connections from one IP address (including those still in their handshake)
    max_connections_per_ip: PositiveInt = 8
    #: networks whose addresses the per-IP limit leaves alone (the operator's own processes;
    #: a formation on one machine has every peer on 127.0.0.1). They still count in all.
    per_ip_exempt: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    #: a new connection must finish its Noise and yamux handshake within this
    handshake_timeout: Seconds = 5.0
    #: peerkit session streams one peer may hold open to us at once
    max_streams_per_peer: PositiveInt = 32
    # --- flow control: what a peer may make us hold for it ----------------------------------
    #: requests from one peer being handled at once (more are answered "busy")
    max_requests_per_peer: PositiveInt = 64
    #: reply bytes waiting for one slow reader; past it requests are answered "busy", and past
    #: twice it plus one frame the stream is reset
    max_queued_bytes_per_peer: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 8 * _MIB
    #: the same for all peers together
    max_queued_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * _MIB
    #: gossip messages one peer may forward to us per second (burst: twice that); more are
    #: dropped, not forwarded, and count against the peer's gossip score
    gossip_per_peer_per_second: Annotated[float, msgspec.Meta(gt=0)] = 500.0
    #: open writes (records anyone may publish) one peer may make per minute, and their bytes
    open_writes_per_peer_per_minute: PositiveInt = 120
    open_write_bytes_per_peer_per_minute: PositiveInt = 1 * _MIB
    #: open writes from all other peers together per minute
    open_writes_per_minute: PositiveInt = 3000
    # --- liveness ---------------------------------------------------------------------------
    #: once a frame has started it must arrive within this, plus one second per 64 KiB
    frame_timeout: Seconds = 10.0
    #: a session stream with nothing to read, nothing to write and no request in flight is
    #: closed after this
    idle_stream_timeout: Seconds = 300.0
    #: every connection is pinged this often; one that does not answer within the timeout is
    #: closed, so requests on it fail at once and reconnection starts
    keepalive_interval: Seconds = 15.0
    keepalive_timeout: Seconds = 10.0

    def __post_init__(self) -> None:
        for network in self.per_ip_exempt:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"per_ip_exempt: {network!r} is not a network (like 10.0.0.0/8)"
                ) from None


class PeerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: a human name for logs and transcripts
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "peer"
    #: multiaddrs to listen on; port 0 picks a free port; /ip4/0.0.0.0 (or /ip6/::) listens on
    #: every interface and is announced as each interface's address
    listen: list[str] = msgspec.field(default_factory=lambda: ["/ip4/127.0.0.1/tcp/0"])
    #: addresses to tell others besides the listen addresses (a pod's service address, a
    #: host behind port forwarding): /ip4|ip6|dns4|dns6/<host>/tcp/<port>, without /p2p
    announce: list[str] = msgspec.field(default_factory=list)
    #: file holding the peer's Ed25519 key, created on first start (relative to this file);
    #: a peer run from a peer.yaml uses identity.key when unset, a node built in code without
    #: it gets a new key each time
    identity: str | None = None
    #: full multiaddrs (ending /p2p/<id>) dialled at start and redialled when lost
    bootstrap: list[str] = msgspec.field(default_factory=list)
    transport: Literal["libp2p", "memory"] = "libp2p"
    max_frame_size: Annotated[int, msgspec.Meta(ge=1024, le=64 * _MIB)] = DEFAULT_MAX_FRAME
    request_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: actors to run, as "package.module:ClassName"
    services: list[str] = msgspec.field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    supervision: SupervisionConfig = msgspec.field(default_factory=SupervisionConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    rendezvous: RendezvousConfig = msgspec.field(default_factory=RendezvousConfig)
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    gateway: GatewayConfig = msgspec.field(default_factory=GatewayConfig)
    naming: NamingConfig = msgspec.field(default_factory=NamingConfig)
    dcs: DcsConfig = msgspec.field(default_factory=DcsConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    relay: RelayConfig = msgspec.field(default_factory=RelayConfig)
    #: a free-form role name shown in status tables (set by formations)
    role: str = ""

    #: where the file was read from (not a YAML key)
    source: str | None = None


def read_config_text(path: Path, *, hint: str) -> str:
    """A config file's text; ConfigError naming the file when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path), hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None


def load_config(path: str | Path) -> PeerConfig:
    path = Path(path)
    text = read_config_text(path, hint="pass --config with the path of a peer.yaml")
    cfg = parse_config(text, source=str(path))
    return cfg


def load_yaml_mapping(text: str, source: str) -> Any:
    """Parse YAML keeping line numbers; the top level must be a mapping. ConfigError if not."""
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", path=source, line=line) from None
    except RecursionError:
        # ruamel's parser recurses per nesting level: a few thousand brackets exhaust it
        raise ConfigError(
            f"nested deeper than {MAX_DEPTH} levels", path=source, hint="flatten the file"
        ) from None
    except (ValueError, IndexError, TypeError, AttributeError):
        # ruamel's value constructors fail on some scalars that look like numbers without
        # being one (`-_`: IndexError, `._`: ValueError; found by the soak's fuzzing)
        node = _unreadable_scalar(text)
        what = f"{node.value!r} is" if node is not None else "a value is"
        raise ConfigError(
            f"not valid YAML: {what} not a value the YAML reader can read",
            path=source,
            line=node.start_mark.line + 1 if node is not None else None,
            hint='put text in quotes, e.g. key: "-_"',
        ) from None
    if too_deep(doc):
        raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path=source)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError("the top level must be a mapping of keys to values", path=source, line=1)
    return doc


def _unreadable_scalar(text: str) -> ScalarNode | None:
    """The first scalar of ``text`` that ruamel cannot turn into a value (for the error's
    line), read node by node from the parsed document; None if that cannot be found."""
    yaml = YAML(typ="rt")
    try:
        root = yaml.compose(text)
    except (YAMLError, RecursionError):
        return None
    stack: list[Node] = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, ScalarNode):
            try:
                yaml.constructor.construct_object(node, deep=True)
            except Exception:  # whatever the reader raised on it: this is the value to name
                return node
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
    return None


def convert_with_lines(doc: Any, type_: type[T], source: str) -> T:
    """msgspec-validate a parsed YAML document; errors name the file, line and key."""
    try:
        return msgspec.convert(plain_yaml(doc), type_, strict=True)
    except msgspec.ValidationError as exc:
        message, line = _locate(str(exc), doc)
        raise ConfigError(message, path=source, line=line) from None


def parse_config(text: str, *, source: str = "<peer.yaml>") -> PeerConfig:
    doc = load_yaml_mapping(text, source)
    cfg = convert_with_lines(doc, PeerConfig, source)
    if "source" in doc:
        raise ConfigError("unknown key 'source'", path=source, line=line_of(doc, ["source"]))
    cfg.source = source
    check_addresses(cfg, doc)
    return cfg


def config_line(cfg: PeerConfig, steps: list[str | int]) -> int | None:
    """The line of ``steps`` in the peer.yaml the config was read from (None if code-built)."""
    if not cfg.source:
        return None
    try:
        doc = load_yaml_mapping(Path(cfg.source).read_text(encoding="utf-8"), cfg.source)
    except (OSError, ConfigError):
        return None
    return line_of(doc, steps)


def check_addresses(cfg: PeerConfig, doc: Any = None) -> None:
    """Every listen, announce and bootstrap address parses and can be used for what it is
    for; ConfigError naming the file and line (when read from one) otherwise."""
    from .addresses import AddressError, parse, parse_dialable

    checks: list[tuple[str, list[str], Any]] = [
        ("listen", cfg.listen, parse),
        ("announce", cfg.announce, parse),
        ("bootstrap", cfg.bootstrap, parse_dialable),
    ]
    for key, addrs, check in checks:
        for i, addr in enumerate(addrs):
            try:
                parsed = check(addr, what=f"{key} address")
                if key == "announce" and (parsed.unspecified or parsed.peer_id):
                    raise AddressError(
                        f"announce address {addr!r} cannot be dialled as written",
                        hint="announce a concrete host and port, without /p2p (it is added)",
                    )
                if key == "listen" and parsed.family.startswith("dns"):
                    raise AddressError(
                        f"listen address {addr!r} names a host: a socket binds to an IP",
                        hint="listen on /ip4/0.0.0.0/tcp/<port> and announce the DNS name",
                    )
            except AddressError as exc:
                line = line_of(doc, [key, i]) if doc is not None else None
                raise ConfigError(str(exc), path=cfg.source, line=line, hint=exc.hint) from None


def plain_yaml(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain_yaml(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_yaml(v) for v in node]
    return node


_PATH = re.compile(r" - at `(?P<key>key in )?\$(?P<path>[^`]*)`$")
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")


def _locate(message: str, doc: Any) -> tuple[str, int | None]:
    """Turn msgspec's ``... - at `$.a[0].b``` into a readable message and a YAML line."""
    m = _PATH.search(message)
    steps: list[str | int] = []
    if m:
        for name, index, quoted, dquoted in _STEP.findall(m.group("path")):
            if index:
                steps.append(int(index))
            else:
                steps.append(name or quoted or dquoted)
        message = message[: m.start()]
    unknown = _UNKNOWN.search(message)
    if unknown:
        steps.append(unknown.group("field"))
        message = f"unknown key {unknown.group('field')!r}"
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps).lstrip(".")
    if m and m.group("key"):
        message = f"{where}: a key: {message}"
    elif where and not unknown:
        message = f"{where}: {message}"
    line = line_of(doc, steps)
    if line is None and "missing required field" in message:
        line = _node_line(doc, steps)
    return message, line


def _node_line(doc: Any, steps: list[str | int]) -> int | None:
    """The line where the mapping at ``steps`` starts (for "missing field" errors)."""
    node = doc
    for step in steps:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None else None


def line_of(doc: Any, steps: list[str | int]) -> int | None:
    node = doc
    line = None
    for step in steps:
        try:
            if isinstance(step, int):
                line = node.lc.item(step)[0] + 1
            else:
                line = node.lc.key(step)[0] + 1
            node = node[step]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line
