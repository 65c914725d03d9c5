"""Formations beyond one machine: Kubernetes manifests and compose files, run by existing
engines (peerkit does not grow its own orchestrator).

Rendezvous points need stable addresses including their peer ids, so their identity keys are
generated here (a Secret / files beside the compose file) and their bootstrap multiaddrs use DNS
(``/dns4/<pod>.<service>.<namespace>.svc.cluster.local/tcp/4001/p2p/<id>``).
"""

from __future__ import annotations

import copy
import io
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ruamel.yaml import YAML

from ..naming.records import peer_id_for
from .spec import FormationSpec

P2P_PORT = 4001
GATEWAY_PORT = 8080


def _identities(spec: FormationSpec) -> dict[str, tuple[str, str]]:
    """Pod name -> (PEM key, peer id) for every rendezvous point."""
    out = {}
    for role, rs in spec.roles.items():
        if rs.rendezvous_point:
            for i in range(rs.count):
                key = Ed25519PrivateKey.generate()
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                out[f"{role}-{i}"] = (pem, peer_id_for(key))
    return out


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
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump_all(docs, buf)
    return buf.getvalue()


def k8s_manifests(spec: FormationSpec, *, image: str, namespace: str = "default") -> str:
    ids = _identities(spec)
    bootstrap = [
        f"/dns4/{pod}.{pod.rsplit('-', 1)[0]}.{namespace}.svc.cluster.local/tcp/{P2P_PORT}"
        f"/p2p/{peer_id}"
        for pod, (_, peer_id) in ids.items()
    ]
    docs: list[Any] = []
    if ids:
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": f"{spec.name}-identities", "namespace": namespace},
                "type": "Opaque",
                "stringData": {f"{pod}.key": pem for pod, (pem, _) in ids.items()},
            }
        )
    for role, rs in spec.roles.items():
        labels = {"app.kubernetes.io/name": spec.name, "peerkit/role": role}
        peer_yaml = _dump([_peer_yaml(spec, role, bootstrap)])
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{role}-config", "namespace": namespace, "labels": labels},
                "data": {"peer.yaml": peer_yaml},
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": role, "namespace": namespace, "labels": labels},
                "spec": {
                    "clusterIP": "None",
                    "selector": labels,
                    "ports": [
                        {"name": "p2p", "port": P2P_PORT},
                        {"name": "gateway", "port": GATEWAY_PORT},
                    ],
                },
            }
        )
        key_setup = (
            "cp /keys/${HOSTNAME}.key /data/identity.key && chmod 600 /data/identity.key && "
            if rs.rendezvous_point
            else ""
        )
        volumes: list[dict[str, Any]] = [
            {"name": "config", "configMap": {"name": f"{role}-config"}},
            {"name": "data", "emptyDir": {}},
        ]
        mounts: list[dict[str, Any]] = [
            {"name": "config", "mountPath": "/config"},
            {"name": "data", "mountPath": "/data"},
        ]
        if rs.rendezvous_point:
            volumes.append({"name": "keys", "secret": {"secretName": f"{spec.name}-identities"}})
            mounts.append({"name": "keys", "mountPath": "/keys", "readOnly": True})
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": role, "namespace": namespace, "labels": labels},
                "spec": {
                    "serviceName": role,
                    "replicas": rs.count,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "peer",
                                    "image": image,
                                    "command": [
                                        "sh",
                                        "-c",
                                        key_setup + "exec peerkit run -c /config/peer.yaml",
                                    ],
                                    "ports": [
                                        {"name": "p2p", "containerPort": P2P_PORT},
                                        {"name": "gateway", "containerPort": GATEWAY_PORT},
                                    ],
                                    "livenessProbe": {
                                        "httpGet": {"path": "/health/live", "port": GATEWAY_PORT},
                                        "periodSeconds": 10,
                                    },
                                    "readinessProbe": {
                                        "httpGet": {"path": "/health/ready", "port": GATEWAY_PORT},
                                        "periodSeconds": 5,
                                    },
                                    "volumeMounts": mounts,
                                }
                            ],
                            "volumes": volumes,
                        },
                    },
                },
            }
        )
    return _dump(docs)


#: where compose_file's key files go, relative to the compose file
KEYS_DIR = "keys"


def compose_file(spec: FormationSpec, *, image: str) -> tuple[str, dict[str, str]]:
    """The compose file, and the identity keys it names as ``secrets`` (relative path -> PEM).

    Keys are compose secrets read from separate files (written 0600 by the CLI), never inline
    ``configs``: a compose file is shared and committed; a key file is not."""
    ids = _identities(spec)
    secrets: dict[str, Any] = {}
    key_files: dict[str, str] = {}
    bootstrap = [f"/dns4/{pod}/tcp/{P2P_PORT}/p2p/{peer_id}" for pod, (_, peer_id) in ids.items()]
    services: dict[str, Any] = {}
    configs: dict[str, Any] = {}
    for role, rs in spec.roles.items():
        configs[f"{role}-config"] = {"content": _dump([_peer_yaml(spec, role, bootstrap)])}
        for i in range(rs.count):
            name = f"{role}-{i}"
            key_setup = ""
            svc_configs = [{"source": f"{role}-config", "target": "/config/peer.yaml"}]
            svc_secrets = []
            if name in ids:
                key_files[f"{KEYS_DIR}/{name}.key"] = ids[name][0]
                secrets[f"{name}-key"] = {"file": f"./{KEYS_DIR}/{name}.key"}
                svc_secrets.append({"source": f"{name}-key", "target": "identity.key"})
                key_setup = (
                    "cp /run/secrets/identity.key /data/identity.key"
                    " && chmod 600 /data/identity.key && "
                )
            services[name] = {
                "image": image,
                "hostname": name,
                "command": ["sh", "-c", key_setup + "exec peerkit run -c /config/peer.yaml"],
                "configs": svc_configs,
                "volumes": [f"{name}-data:/data"],
                "healthcheck": {
                    "test": [
                        "CMD",
                        "python",
                        "-c",
                        "import urllib.request;urllib.request.urlopen("
                        f"'http://127.0.0.1:{GATEWAY_PORT}/health/ready')",
                    ],
                    "interval": "5s",
                },
                "restart": "on-failure" if spec.restart.policy != "never" else "no",
            }
            if svc_secrets:
                services[name]["secrets"] = svc_secrets
            if not rs.rendezvous_point:
                services[name]["depends_on"] = sorted(ids)
    volumes: dict[str, Any] = {f"{n}-data": {} for n in services}
    doc = {"name": spec.name, "services": services, "configs": configs, "volumes": volumes}
    if secrets:
        doc["secrets"] = secrets
    return _dump([doc]), key_files
