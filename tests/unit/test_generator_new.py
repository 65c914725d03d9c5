"""`peerkit new`: render into a temporary folder, check the files, run the app's own tests."""

import os
import subprocess
import sys
import time

import pytest
from peerkit._generators.app.generator import GeneratorError, plan_app, write_app


def test_plan_and_refusal_to_overwrite(tmp_path):
    files = plan_app("shop")
    paths = {f.path for f in files}
    assert {
        "pyproject.toml",
        "peer.yaml",
        "formation.yaml",
        "schemas/greeter.yaml",
        "shop/generated/greeter.py",
        "shop/generated/greeter.schema.json",
        "shop/services/greeter.py",
        "tests/test_greeter.py",
        "tests/generated/test_greeter_contract.py",
    } <= paths
    generated = next(f.content for f in files if f.path == "shop/generated/greeter.py")
    assert 'tag="shop.greeter.Greet"' in generated
    write_app(tmp_path / "shop", files)
    with pytest.raises(GeneratorError, match="not empty"):
        write_app(tmp_path / "shop", files)
    write_app(tmp_path / "shop", files, force=True)
    bare = {f.path for f in plan_app("shop", sample=False)}
    assert "shop/services/__init__.py" in bare and not any("greeter" in p for p in bare)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("Shop", "lowercase"),
        ("1app", "start with"),
        ("class", "Python keyword"),
        ("peerkit", "hide peerkit itself"),
        ("test", "Python's own test package"),
        ("tests", "tests/"),
        ("my--app", "not a usable"),
        ("", "not a usable"),
    ],
)
def test_bad_names_are_refused_saying_why(bad, why):
    with pytest.raises(GeneratorError, match=why):
        plan_app(bad)


def test_a_name_with_dashes_is_a_project_whose_package_has_underscores():
    files = {f.path: f.content for f in plan_app("my-app")}
    assert "my_app/services/greeter.py" in files
    assert 'name = "my-app"' in files["pyproject.toml"]
    assert 'package = "my_app"' in files["pyproject.toml"]
    assert "my_app.services.greeter:Greeter" in files["formation.yaml"]
    # made from a source checkout: the app depends on that peerkit (installable anywhere)
    assert 'dependencies = ["peerkit @ file://' in files["pyproject.toml"]


def test_new_app_tests_pass_at_once(tmp_path):
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "new", "demoapp"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "created demoapp" in proc.stdout and "tests/test_greeter.py" in proc.stdout
    app = tmp_path / "demoapp"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(app)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout
    from tests.unit.test_generator_service import assert_lint_clean

    assert_lint_clean(app)
    print(f"peerkit new -> generated tests passing: {time.perf_counter() - t0:.1f} s")
    # and the app's peer.yaml is a valid config whose services import
    from peerkit.config import load_config

    assert load_config(app / "peer.yaml").services == ["demoapp.services.greeter:Greeter"]


def test_cli_errors(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "peerkit", "new", "taken"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "not empty" in proc.stderr and "Traceback" not in proc.stderr
