"""Formation exports that apply: every Kubernetes manifest validates against the Kubernetes
OpenAPI schemas (kubernetes-validate, strict), the compose file against the compose-spec JSON
Schema; data on persistent volumes, identities stable across exports and delivered as secrets,
files owner-only, the recommended labels, pods announcing their DNS names, no YAML anchors; the
container recipes build a non-root image that runs `peerkit run`."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from peerkit.formation.export import compose_file, k8s_manifests
from peerkit.formation.spec import load_formation

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_app" / "formation.yaml"
COMPOSE_SPEC = (
    REPO / "tests" / "data" / "compose-spec.json"
)  # compose-spec/compose-spec, Apache-2.0
K8S_VERSION = "1.33.0"


def load_all(text):
    return list(YAML(typ="safe", pure=True).load_all(text))


def manifests(tmp_path, namespace="demo"):
    spec = load_formation(SAMPLE)
    text = k8s_manifests(spec, image="sample:1", keys=tmp_path / "keys", namespace=namespace)
    return spec, text, load_all(text)


def test_every_manifest_validates_against_the_kubernetes_schemas(tmp_path):
    _, _, docs = manifests(tmp_path)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any error
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ConfigMap", "PodDisruptionBudget", "Secret", "Service", "StatefulSet"]


def test_pods_keep_their_data_identity_and_address(tmp_path):
    spec, text, docs = manifests(tmp_path)
    assert "&id" not in text and "*id" not in text  # no YAML anchors or aliases
    secret = next(d for d in docs if d["kind"] == "Secret")
    pods = [f"{role}-{i}" for role, rs in spec.roles.items() for i in range(rs.count)]
    assert sorted(secret["stringData"]) == sorted(f"{p}.key" for p in pods)
    for role, rs in spec.roles.items():
        sts = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == role)
        pod = sts["spec"]["template"]["spec"]
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert not any(v["name"] == "data" for v in pod["volumes"])  # no emptyDir for /data
        (container,) = pod["containers"]
        command = " ".join(container["command"])
        assert "/keys/$(POD_NAME).key" in command
        assert f'--announce "/dns4/$(POD_NAME).{role}.demo.svc.cluster.local/tcp/4001"' in command
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        labels = sts["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == role
        assert labels["app.kubernetes.io/managed-by"] == "peerkit"
        assert "peerkit/role" not in labels
        assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
        pdb = [
            d for d in docs if d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == role
        ]
        assert len(pdb) == (1 if rs.count > 1 else 0)
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "user-config"
    )
    peer = YAML(typ="safe", pure=True).load(config["data"]["peer.yaml"])
    (boot,) = peer["bootstrap"]
    assert re.fullmatch(
        r"/dns4/rendezvous-0\.rendezvous\.demo\.svc\.cluster\.local/tcp/4001/p2p/12D3KooW\w+", boot
    )
    assert peer["identity"] == "/data/identity.key" and peer["storage"]["path"] == "/data/blocks.db"


def test_identities_are_stable_across_exports_and_owner_only(tmp_path):
    _, first, _ = manifests(tmp_path)
    _, second, _ = manifests(tmp_path, namespace="demo")
    assert first == second  # the same keys, the same peer ids, the same bytes
    keys = sorted((tmp_path / "keys").iterdir())
    assert len(keys) == 6
    assert all(k.stat().st_mode & 0o077 == 0 for k in keys)
    assert (tmp_path / "keys").stat().st_mode & 0o077 == 0


def test_the_compose_file_validates_against_the_compose_spec(tmp_path):
    spec = load_formation(SAMPLE)
    text = compose_file(spec, image="sample:1", keys=tmp_path / "keys")
    (doc,) = load_all(text)
    jsonschema.Draft7Validator(json.loads(COMPOSE_SPEC.read_text())).validate(doc)
    assert "PRIVATE KEY" not in text  # keys are secrets in files of their own
    names = set(doc["services"])
    assert names == {"rendezvous-0", "app-node-0", "app-node-1", "user-0", "user-1", "user-2"}
    assert set(doc["secrets"]) == {f"{n}-key" for n in names}
    user = doc["services"]["user-0"]
    assert user["depends_on"] == ["rendezvous-0"]
    assert user["user"] == "10001:10001"
    assert '--announce "/dns4/user-0/tcp/4001"' in " ".join(user["command"])
    peer = YAML(typ="safe", pure=True).load(doc["configs"]["user-config"]["content"])
    assert peer["bootstrap"][0].startswith("/dns4/rendezvous-0/tcp/4001/p2p/12D3KooW")
    assert set(doc["volumes"]) == {f"{n}-data" for n in names}


def test_the_cli_export_says_how_to_build_the_image(tmp_path):
    out = tmp_path / "k8s.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "formation", "export", str(SAMPLE), "--k8s", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "docker build -t sample:0.1.0 -f Containerfile ." in proc.stdout
    assert len(load_all(out.read_text())) == 12  # secret + 3 x (configmap, service, sts) + 2 PDBs
    assert out.stat().st_mode & 0o077 == 0  # it holds private keys
    assert "image: sample:0.1.0" in out.read_text()


@pytest.mark.parametrize(
    "recipe", [REPO / "Containerfile", REPO / "templates" / "app" / "Containerfile.tmpl"]
)
def test_the_container_recipe_runs_peerkit_as_a_non_root_user(recipe):
    lines = [
        line.strip()
        for line in recipe.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM"))]
    assert final.startswith("FROM python:3.11-slim")
    assert any(re.match(r"RUN pip install .*\.whl", line) for line in lines)
    assert "USER 10001:10001" in lines  # the uid the manifests' securityContext expects
    assert 'ENTRYPOINT ["peerkit"]' in lines
    assert 'CMD ["run", "-c", "/config/peer.yaml"]' in lines
    assert "VOLUME /data" in lines
