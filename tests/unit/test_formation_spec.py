import pytest

from peerkit import ConfigError
from peerkit.formation.spec import load_formation, plan

GOOD = """\
name: sample
roles:
  rendezvous:
    count: 1
    rendezvous_point: true
  app-node:
    count: 2
    services: ["sample_app.services.greeter:Greeter"]
    config:
      rendezvous: {namespaces: [sample/nodes]}
  user:
    count: 3
    config:
      rendezvous: {prefer: [sample/nodes]}
restart: {policy: on-failure, max_restarts: 2}
"""


def test_plan(tmp_path):
    f = tmp_path / "formation.yaml"
    f.write_text(GOOD)
    peers = plan(load_formation(f))
    assert [p.name for p in peers][:1] == ["rendezvous-0"]
    assert len(peers) == 6
    app = next(p for p in peers if p.name == "app-node-1")
    assert app.config["services"] == ["sample_app.services.greeter:Greeter"]
    assert app.config["gateway"]["enabled"] is True
    assert app.config["role"] == "app-node"
    rv = peers[0]
    assert rv.config["rendezvous"]["server"] is True


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("name: x\nroles:\n  a:\n    cuont: 2\n", 4, "unknown key 'cuont'"),
        ("name: x\nroles:\n  a:\n    count: -1\n", 4, ">= 0"),
        ("name: x\nroles:\n  Bad_Role: {}\n", 3, "role name 'Bad_Role'"),
        ("name: x\nroles:\n  a:\n    config: {listen: 5}\n", 3, "role 'a'.*listen"),
        ("name: x\nroles: {}\n", None, "at least one role"),
        ("roles:\n  a: {}\n", 1, "name"),
        ("name: x\nroles:\n  a: {}\nrestart: {policy: sometimes}\n", 4, "policy"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, match):
    f = tmp_path / "formation.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_formation(f)
    assert info.value.line == line
    assert str(info.value).startswith(str(f))


def test_peers_may_share_a_process(tmp_path):
    (tmp_path / "f.yaml").write_text(
        "name: t\nroles:\n  app: {count: 1}\n  user: {count: 5, per_process: 2}\n"
    )
    processes = {p.name: p.process for p in plan(load_formation(tmp_path / "f.yaml"))}
    assert processes == {
        "app-0": "app-0",
        "user-0": "user[0-1]",
        "user-1": "user[0-1]",
        "user-2": "user[2-3]",
        "user-3": "user[2-3]",
        "user-4": "user[4-4]",
    }
