from pathlib import Path

from ruamel.yaml import YAML

from peerkit.formation.export import compose_file, k8s_manifests
from peerkit.formation.spec import load_formation

SAMPLE = Path(__file__).resolve().parents[2] / "sample_app" / "formation.yaml"


def load_all(text):
    return list(YAML(typ="safe", pure=True).load_all(text))


def test_k8s_manifests_are_complete_and_consistent():
    spec = load_formation(SAMPLE)
    docs = load_all(k8s_manifests(spec, image="me/app:1", namespace="demo"))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert ("Secret", "sample-identities") in kinds
    for role, rs in spec.roles.items():
        assert ("ConfigMap", f"{role}-config") in kinds
        svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == role)
        assert svc["apiVersion"] == "v1" and svc["spec"]["clusterIP"] == "None"
        sts = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == role)
        assert sts["apiVersion"] == "apps/v1"
        assert sts["spec"]["replicas"] == rs.count and sts["spec"]["serviceName"] == role
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert sts["spec"]["selector"]["matchLabels"] == labels == svc["spec"]["selector"]
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "me/app:1"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        mounted = {m["name"] for m in container["volumeMounts"]}
        declared = {v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]}
        assert mounted <= declared
        cm = next(
            d
            for d in docs
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"{role}-config"
        )
        peer = YAML(typ="safe", pure=True).load(cm["data"]["peer.yaml"])
        assert peer["gateway"]["port"] == 8080 and peer["role"] == role
        if not rs.rendezvous_point:
            (boot,) = peer["bootstrap"]
            assert boot.startswith("/dns4/rendezvous-0.rendezvous.demo.svc.cluster.local/tcp/")
            assert "/p2p/12D3KooW" in boot
    secret = docs[0]
    assert secret["stringData"]["rendezvous-0.key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_compose_file():
    spec = load_formation(SAMPLE)
    text, key_files = compose_file(spec, image="me/app:1")
    doc = load_all(text)[0]
    assert "PRIVATE KEY" not in text  # keys are secrets in files of their own
    assert set(key_files) == {"keys/rendezvous-0.key"}
    assert doc["secrets"] == {"rendezvous-0-key": {"file": "./keys/rendezvous-0.key"}}
    assert doc["services"]["rendezvous-0"]["secrets"][0]["source"] == "rendezvous-0-key"
    names = set(doc["services"])
    assert names == {"rendezvous-0", "app-node-0", "app-node-1", "user-0", "user-1", "user-2"}
    user = doc["services"]["user-0"]
    assert user["depends_on"] == ["rendezvous-0"]
    assert {c["source"] for c in user["configs"]} <= set(doc["configs"])
    peer = YAML(typ="safe", pure=True).load(doc["configs"]["user-config"]["content"])
    assert peer["bootstrap"][0].startswith("/dns4/rendezvous-0/tcp/4001/p2p/12D3KooW")
    assert set(doc["volumes"]) == {f"{n}-data" for n in names}


def test_cli_export(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "k8s.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "formation", "export", str(SAMPLE), "--k8s", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(load_all(out.read_text())) == 10  # secret + 3 x (configmap, service, statefulset)
    assert out.stat().st_mode & 0o077 == 0  # it holds private keys
    compose = tmp_path / "c" / "compose.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "peerkit",
            "formation",
            "export",
            str(SAMPLE),
            "--compose",
            str(compose),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    key = tmp_path / "c" / "keys" / "rendezvous-0.key"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key.stat().st_mode & 0o077 == 0 and key.parent.stat().st_mode & 0o077 == 0
