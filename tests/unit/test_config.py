import os
import stat
import subprocess
import sys

import pytest

from peerkit import ConfigError, PeerConfig
from peerkit.config import load_config, parse_config
from peerkit.errors import IdentityError
from peerkit.identity import load_or_create_identity


def test_defaults():
    cfg = parse_config("name: alice\n")
    assert cfg.name == "alice"
    assert cfg.listen == ["/ip4/127.0.0.1/tcp/0"]
    assert cfg.max_frame_size == 4 * 1024 * 1024
    assert cfg.supervision.strategy == "one_for_one"


def test_empty_file_is_all_defaults():
    assert parse_config("") == PeerConfig(source="<peer.yaml>")


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("name: a\nlisten: 5\n", 2, "listen: Expected `array`, got `int`"),
        ("name: a\nbogus: 1\n", 2, "unknown key 'bogus'"),
        ("name: a\nsupervision:\n  strategy: one_for_none\n", 3, "supervision.strategy"),
        ("name: a\nsupervision:\n  typo: 1\n", 3, "unknown key 'typo'"),
        ("listen:\n  - /ip4/127.0.0.1/tcp/0\n  - 7\n", 3, r"listen\[1\]: Expected `str`"),
        ("max_frame_size: 12\n", 1, ">= 1024"),
        ("name: [unclosed\n", 2, "not valid YAML"),
        # scalars ruamel's number readers fall over on (IndexError, ValueError inside it)
        ("-_", 1, "not valid YAML: '-_' is not a value"),
        ("name: a\nlisten:\n  - ._\n", 3, "not valid YAML: '._' is not a value"),
        ("- just\n- a list\n", 1, "mapping"),
        ("source: x\n", 1, "unknown key 'source'"),
        ("listen:\n  - /ip4/1.2.3/tcp/4001\n", 2, "not a valid multiaddr"),
        ("listen:\n  - /ip4/127.0.0.1/udp/4001\n", 2, "not a TCP address"),
        ("listen:\n  - ip4/127.0.0.1/tcp/1\n", 2, "not a multiaddr"),
        ("listen:\n  - /dns4/example.org/tcp/1\n", 2, "names a host"),
        ("name: a\nbootstrap:\n  - /ip4/192.0.2.1/tcp/4001\n", 3, "does not say which peer"),
        ("announce:\n  - /ip4/0.0.0.0/tcp/4001\n", 2, "cannot be dialled as written"),
        (
            "auth:\n  trusted: [did:web:example.com]\n",
            2,
            r"auth.trusted\[0\]: Expected `str` matching",
        ),
    ],
)
def test_errors_name_file_and_line(text, line, match):
    with pytest.raises(ConfigError, match=match) as info:
        parse_config(text, source="peer.yaml")
    assert info.value.line == line
    assert str(info.value).startswith(f"peer.yaml:{line}: ")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_identity_created_once_with_owner_only_mode(tmp_path):
    path = tmp_path / "keys" / "id.key"
    seed = load_or_create_identity(path)
    assert len(seed) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_identity(path) == seed


def test_identity_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "id.key"
    load_or_create_identity(path)
    os.chmod(path, 0o644)
    with pytest.raises(IdentityError, match="readable by other users") as info:
        load_or_create_identity(path)
    assert "chmod 600" in (info.value.hint or "")


def test_identity_garbage_is_refused(tmp_path):
    path = tmp_path / "id.key"
    path.write_text("not a key")
    os.chmod(path, 0o600)
    with pytest.raises(IdentityError, match="not a PEM private key"):
        load_or_create_identity(path)


def test_cli_reports_config_errors_without_traceback(tmp_path):
    bad = tmp_path / "peer.yaml"
    bad.write_text("name: x\nlisten: 5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "run", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{bad}:2: listen: Expected `array`, got `int`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_reports_unimportable_service(tmp_path):
    cfg = tmp_path / "peer.yaml"
    cfg.write_text('services: ["no_such_module:Thing"]\ntransport: memory\n')
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "run", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "cannot import no_such_module" in proc.stderr
    assert "hint:" in proc.stderr and "Traceback" not in proc.stderr
