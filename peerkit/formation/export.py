"""Formations beyond one machine: Kubernetes manifests and compose files, run by existing
engines (peerkit does not grow its own orchestrator).

What a peer needs to live in a cluster, and where each comes from here:

- **an image**: the app's ``Containerfile`` (``peerkit new`` writes one; the repository has one
  for sample_app) builds a small image running ``peerkit`` as a non-root user;
- **its identity, for good**: every pod's Ed25519 key is made once and kept in the export's
  ``keys/`` folder (0600), reused by every later export; the cluster gets them as a Secret
  (compose: as secrets), so a pod keeps its peer id across restarts, reschedules and re-exports;
- **its data, for good**: ``/data`` (block store, pins, names) is a PersistentVolumeClaim per pod
  (``volumeClaimTemplates``; compose: a named volume), never an ``emptyDir``;
- **an address others can dial**: each pod announces its stable DNS name
  (``/dns4/<pod>.<service>.<namespace>.svc.cluster.local/tcp/4001``; compose: the service name);
  bootstrap addresses name the rendezvous points the same way;
- **the rest of a good citizen**: readiness that means ready (``/health/ready``: started and
  connected to a bootstrap peer), resource requests and limits, a non-root security context,
  a PodDisruptionBudget for roles of several peers, the ``app.kubernetes.io/*`` labels, and
  YAML without anchors.

A Helm chart would add templating the export already does from formation.yaml, and a second
place to keep in step: plain manifests, validated against the Kubernetes OpenAPI schemas in the
tests, are simpler to read and to apply (``kubectl apply -f``).
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ruamel.yaml import YAML

from .. import __version__
from ..errors import ConfigError
from ..naming.records import peer_id_for
from ..private_files import private_dir, write_private
from .spec import FormationSpec

P2P_PORT = 4001
GATEWAY_PORT = 8080
#: the image's non-root user (Containerfile)
UID = 10001
#: where export keeps the pods' identity keys, beside the manifests or compose file
KEYS_DIR = "keys"
#: what each pod may use unless formation.yaml says otherwise (a peer idles at ~100 MB)
RESOURCES = {
    "requests": {"cpu": "100m", "memory": "192Mi"},
    "limits": {"memory": "768Mi"},
}
DATA_SIZE = "1Gi"


@dataclass(frozen=True)
class Identity:
    pod: str
    pem: str
    peer_id: str


def pods(spec: FormationSpec) -> list[tuple[str, str]]:
    """(pod name, role) of every peer, in order."""
    return [(f"{role}-{i}", role) for role, rs in spec.roles.items() for i in range(rs.count)]


def identities(spec: FormationSpec, keys: Path) -> dict[str, Identity]:
    """Every pod's identity, read from ``keys/<pod>.key`` or made there (0600) if missing:
    the same ids at every export."""
    out = {}
    for pod, _role in pods(spec):
        path = keys / f"{pod}.key"
        if path.exists():
            pem = path.read_text()
            try:
                key = serialization.load_pem_private_key(pem.encode(), password=None)
            except ValueError as exc:
                raise ConfigError(f"{path} is not a PEM private key: {exc}") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError(f"{path} is not an Ed25519 key")
        else:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            private_dir(keys)
            write_private(path, pem)
        out[pod] = Identity(pod, pem, peer_id_for(key))
    return out


def labels(spec: FormationSpec, role: str) -> dict[str, str]:
    """The recommended Kubernetes labels (app.kubernetes.io/*); the first three select."""
    return {
        "app.kubernetes.io/name": spec.name,
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": spec.name,
        "app.kubernetes.io/managed-by": "peerkit",
        "app.kubernetes.io/version": __version__,
    }


def _selector(spec: FormationSpec, role: str) -> dict[str, str]:
    return {k: v for k, v in labels(spec, role).items() if k.rsplit("/", 1)[1] in _SELECTING}


_SELECTING = {"name", "instance", "component"}


def _peer_yaml(spec: FormationSpec, role: str, bootstrap: list[str]) -> dict[str, Any]:
    rs = spec.roles[role]
    doc = copy.deepcopy(rs.config)
    doc["role"] = role
    doc["listen"] = [f"/ip4/0.0.0.0/tcp/{P2P_PORT}"]
    doc["identity"] = "/data/identity.key"
    doc["storage"] = {**doc.get("storage", {}), "path": "/data/blocks.db"}
    doc["services"] = [*rs.services, *doc.get("services", [])]
    # off loopback the gateway's non-health routes need a bearer token, kept on the data
    # volume (the config folder is a read-only mount)
    doc["gateway"] = {
        **doc.get("gateway", {}),
        "enabled": True,
        "host": "0.0.0.0",
        "port": GATEWAY_PORT,
        "token_file": "/data/gateway.token",
    }
    if rs.rendezvous_point:
        doc["rendezvous"] = {**doc.get("rendezvous", {}), "server": True}
    else:
        doc["bootstrap"] = bootstrap
    return doc


def _dump(docs: list[Any]) -> str:
    """YAML without anchors or aliases (a shared dict is written out each time)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.representer.ignore_aliases = lambda data: True
    buf = io.StringIO()
    yaml.dump_all(docs, buf)
    return buf.getvalue()


def _start(identity_file: str, announce: str) -> list[str]:
    """The container's command: the identity in place (owner-only), then the peer."""
    return [
        "sh",
        "-c",
        f'install -m 600 "{identity_file}" /data/identity.key'
        f' && exec peerkit run -c /config/peer.yaml --announce "{announce}"',
    ]


def k8s_manifests(
    spec: FormationSpec, *, image: str, keys: Path, namespace: str = "default"
) -> str:
    ids = identities(spec, keys)

    def dns(pod: str, role: str) -> str:
        return f"{pod}.{role}.{namespace}.svc.cluster.local"

    bootstrap = [
        f"/dns4/{dns(pod, role)}/tcp/{P2P_PORT}/p2p/{ids[pod].peer_id}"
        for pod, role in pods(spec)
        if spec.roles[role].rendezvous_point
    ]
    docs: list[Any] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"{spec.name}-identities",
                "namespace": namespace,
                "labels": labels(spec, "identities"),
            },
            "type": "Opaque",
            "stringData": {f"{pod}.key": ids[pod].pem for pod, _ in pods(spec)},
        }
    ]
    for role, rs in spec.roles.items():
        meta = {"namespace": namespace, "labels": labels(spec, role)}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{role}-config", **meta},
                "data": {"peer.yaml": _dump([_peer_yaml(spec, role, bootstrap)])},
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": role, **meta},
                "spec": {
                    "clusterIP": "None",
                    # peers dial each other by pod DNS name before they are all ready
                    "publishNotReadyAddresses": True,
                    "selector": _selector(spec, role),
                    "ports": [
                        {"name": "p2p", "port": P2P_PORT},
                        {"name": "gateway", "port": GATEWAY_PORT},
                    ],
                },
            }
        )
        docs.append(_statefulset(spec, role, rs.count, image, meta, namespace))
        if rs.count > 1:
            docs.append(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": {"name": role, **meta},
                    "spec": {
                        "maxUnavailable": 1,
                        "selector": {"matchLabels": _selector(spec, role)},
                    },
                }
            )
    return _dump(docs)


def _statefulset(
    spec: FormationSpec, role: str, count: int, image: str, meta: dict[str, Any], namespace: str
) -> dict[str, Any]:
    announce = f"/dns4/$(POD_NAME).{role}.{namespace}.svc.cluster.local/tcp/{P2P_PORT}"
    container = {
        "name": "peer",
        "image": image,
        "command": _start("/keys/$(POD_NAME).key", announce),
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [
            {"name": "p2p", "containerPort": P2P_PORT},
            {"name": "gateway", "containerPort": GATEWAY_PORT},
        ],
        "startupProbe": {
            "httpGet": {"path": "/health/live", "port": "gateway"},
            "periodSeconds": 2,
            "failureThreshold": 60,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": "gateway"},
            "periodSeconds": 10,
        },
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "gateway"},
            "periodSeconds": 5,
        },
        "resources": copy.deepcopy(RESOURCES),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/config", "readOnly": True},
            {"name": "keys", "mountPath": "/keys", "readOnly": True},
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": role, **meta},
        "spec": {
            "serviceName": role,
            "replicas": count,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": _selector(spec, role)},
            "template": {
                "metadata": {"labels": labels(spec, role)},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": f"{role}-config"}},
                        {
                            "name": "keys",
                            "secret": {
                                "secretName": f"{spec.name}-identities",
                                "defaultMode": 0o440,  # the fsGroup (the peer's user) reads it
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": labels(spec, role)},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": DATA_SIZE}},
                    },
                }
            ],
        },
    }


def compose_file(spec: FormationSpec, *, image: str, keys: Path) -> str:
    """The compose file. Identity keys are compose secrets read from ``keys/`` (0600), never
    inline: a compose file is shared and committed; a key file is not."""
    ids = identities(spec, keys)
    rel = KEYS_DIR if keys.name == KEYS_DIR else str(keys)
    bootstrap = [
        f"/dns4/{pod}/tcp/{P2P_PORT}/p2p/{ids[pod].peer_id}"
        for pod, role in pods(spec)
        if spec.roles[role].rendezvous_point
    ]
    services: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for role, rs in spec.roles.items():
        configs[f"{role}-config"] = {"content": _dump([_peer_yaml(spec, role, bootstrap)])}
        for i in range(rs.count):
            name = f"{role}-{i}"
            secrets[f"{name}-key"] = {"file": f"./{rel}/{name}.key"}
            services[name] = {
                "image": image,
                "hostname": name,
                "user": f"{UID}:{UID}",
                "command": _start("/run/secrets/identity.key", f"/dns4/{name}/tcp/{P2P_PORT}"),
                "configs": [{"source": f"{role}-config", "target": "/config/peer.yaml"}],
                "secrets": [{"source": f"{name}-key", "target": "identity.key"}],
                "volumes": [f"{name}-data:/data"],
                "labels": labels(spec, role),
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request;urllib.request.urlopen("
                        f"'http://127.0.0.1:{GATEWAY_PORT}/health/ready')",
                    ],
                    "interval": "5s",
                    "start_period": "30s",
                },
                "restart": "on-failure" if spec.restart.policy != "never" else "no",
            }
            if not rs.rendezvous_point:
                services[name]["depends_on"] = sorted(
                    f"{r}-{j}"
                    for r, other in spec.roles.items()
                    if other.rendezvous_point
                    for j in range(other.count)
                )
    volumes: dict[str, Any] = {f"{n}-data": {} for n in services}
    doc = {
        "name": spec.name,
        "services": services,
        "configs": configs,
        "secrets": secrets,
        "volumes": volumes,
    }
    return _dump([doc])


def build_hint(image: str) -> str:
    return f"build the image first: docker build -t {image} -f Containerfile ."
