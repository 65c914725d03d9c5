"""``formation.yaml``: the roles of a formation, how many peers of each, and their config.

    name: sample
    roles:
      rendezvous:
        count: 1
        rendezvous_point: true          # the others bootstrap to these and register with them
      app-node:
        count: 2
        services: ["sample_app.services:Greeter"]
        config: {rendezvous: {namespaces: [sample/nodes]}}
      user:
        count: 3
        config: {rendezvous: {prefer: [sample/nodes]}}
    restart: {policy: on-failure, max_restarts: 3}

``config`` holds peer.yaml keys; each peer's config is checked like a peer.yaml would be.
Errors name the file and the line.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from ..config import PeerConfig, convert_with_lines, load_yaml_mapping, read_config_text
from ..errors import ConfigError

_ROLE_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
_ROLE_RE = re.compile(_ROLE_PATTERN)
RoleName = Annotated[str, msgspec.Meta(pattern=_ROLE_PATTERN)]


class RoleSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    count: Annotated[int, msgspec.Meta(ge=0, le=100)] = 1
    rendezvous_point: bool = False
    services: list[str] = msgspec.field(default_factory=list)
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    #: first TCP port for this role's peers (0: the OS picks free ports)
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    #: how many of this role's peers share one OS process (and one libp2p runtime): most of
    #: a peer process's memory is the libp2p import, so many light peers (users, say) fit in
    #: far less memory together; they are restarted together too
    per_process: Annotated[int, msgspec.Meta(ge=1, le=50)] = 1


class RestartSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    policy: Literal["on-failure", "always", "never"] = "on-failure"
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 3


class FormationSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
    roles: dict[RoleName, RoleSpec]
    restart: RestartSpec = msgspec.field(default_factory=RestartSpec)
    gateway: bool = True
    #: where the formation's files live (not a YAML key)
    source: str | None = None


@dataclass(frozen=True)
class PeerPlan:
    name: str
    role: str
    index: int
    rendezvous_point: bool
    config: dict[str, Any]  # peer.yaml content, without bootstrap (known only at run time)
    #: the OS process it runs in: its own name, or ``role[first-last]`` when peers share one
    process: str = ""


def load_formation(path: str | Path) -> FormationSpec:
    path = Path(path)
    text = read_config_text(path, hint="pass the path of a formation.yaml")
    doc = load_yaml_mapping(text, str(path))
    _check_roles(doc, str(path))
    if "source" in doc:
        raise ConfigError("unknown key 'source'", path=str(path), line=doc.lc.key("source")[0] + 1)
    spec = convert_with_lines(doc, FormationSpec, str(path))
    spec.source = str(path)
    if not spec.roles:
        raise ConfigError("a formation needs at least one role", path=str(path))
    for role, rs in spec.roles.items():
        line = doc["roles"].lc.key(role)[0] + 1
        try:
            convert_with_lines(_peer_doc(spec, role, rs, 0), PeerConfig, str(path))
        except ConfigError as exc:
            raise ConfigError(
                f"role {role!r}: {exc.message.split(': ', 1)[-1]}", path=str(path), line=line
            ) from None
    return spec


def check_services(spec: FormationSpec) -> None:
    """Every service class of every role imports (ConfigError at formation.yaml's line, not at
    the peer.yaml generated from it); run before starting peers."""
    from ..node import add_app_paths, import_actor

    path = Path(spec.source) if spec.source else None
    if path is not None:
        add_app_paths(path)
    doc: Any = load_yaml_mapping(path.read_text(), str(path)) if path is not None else {}
    for role, rs in spec.roles.items():
        listed: Any = (doc.get("roles") or {}).get(role) or {}
        services: Any = listed.get("services") if isinstance(listed, dict) else None
        for i, service in enumerate(rs.services):
            lc = getattr(services, "lc", None)
            line = lc.item(i)[0] + 1 if lc is not None and i < len(services) else None
            import_actor(service, source=str(path) if path else None, line=line)


def _check_roles(doc: Any, source: str) -> None:
    """Validate each role on its own first: msgspec does not name the dict key that failed."""
    roles: Any = doc.get("roles")
    if not isinstance(roles, dict):
        return  # the whole-document check reports it
    lc: Any = getattr(roles, "lc", None)  # ruamel's line/column info
    for role, body in roles.items():
        line = lc.key(role)[0] + 1 if lc is not None else None
        if not isinstance(role, str) or not _ROLE_RE.match(role):
            raise ConfigError(
                f"role name {role!r} must be lowercase letters, digits and '-'",
                path=source,
                line=line,
            )
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"role {role!r} must be a mapping", path=source, line=line)
        convert_with_lines(body, RoleSpec, source)


def _peer_doc(spec: FormationSpec, role: str, rs: RoleSpec, index: int) -> dict[str, Any]:
    doc = copy.deepcopy(rs.config)
    doc.setdefault("name", f"{role}-{index}")
    doc["role"] = role
    doc.setdefault("log_level", "info")
    port = rs.port + index if rs.port else 0
    doc.setdefault("listen", [f"/ip4/127.0.0.1/tcp/{port}"])
    doc["services"] = [*rs.services, *doc.get("services", [])]
    if spec.gateway:
        doc.setdefault("gateway", {})
        doc["gateway"].setdefault("enabled", True)
    if rs.rendezvous_point:
        doc.setdefault("rendezvous", {})
        doc["rendezvous"]["server"] = True
        # every peer reaches a rendezvous point: it keeps mail for collaborators offline,
        # relays connections to peers that cannot be dialled (circuit relay v2, bounded) and
        # runs DHT lookups for those who ask (delegated routing)
        doc.setdefault("dcs", {}).setdefault("keep_for_others", True)
        doc.setdefault("relay", {}).setdefault("serve", True)
        doc.setdefault("routing", {}).setdefault("serve_delegated", True)
    return doc


def _process_of(role: str, rs: RoleSpec, index: int) -> str:
    if rs.per_process == 1:
        return f"{role}-{index}"
    first = index - index % rs.per_process
    last = min(first + rs.per_process, rs.count) - 1
    return f"{role}[{first}-{last}]"


def plan(spec: FormationSpec) -> list[PeerPlan]:
    """Every peer of the formation; rendezvous points first (the others bootstrap to them)."""
    peers = [
        PeerPlan(
            f"{role}-{i}",
            role,
            i,
            rs.rendezvous_point,
            _peer_doc(spec, role, rs, i),
            _process_of(role, rs, i),
        )
        for role, rs in spec.roles.items()
        for i in range(rs.count)
    ]
    return sorted(peers, key=lambda p: not p.rendezvous_point)
