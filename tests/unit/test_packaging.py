"""The package installs anywhere: every module peerkit imports comes from the standard library,
peerkit itself, or a distribution peerkit declares; the wheel holds only peerkit."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        re.split(r"[<>=!~ ;\[@]", dep, maxsplit=1)[0].strip().lower().replace("_", "-")
        for dep in project["dependencies"]
    }


def imported_top_level() -> set[str]:
    names = set()
    for path in (REPO / "peerkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_import_is_declared():
    owners = importlib.metadata.packages_distributions()
    wanted = declared()
    missing = {}
    for name in imported_top_level():
        if name in sys.stdlib_module_names or name in ("peerkit", "__future__"):
            continue
        dists = {d.lower().replace("_", "-") for d in owners.get(name, [])}
        if not dists & wanted and name not in ("pytest",):  # pytest: the test kit's plugin
            missing[name] = sorted(dists)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_wheel_ships_only_peerkit():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "peerkit" or p.startswith("peerkit.") for p in config["packages"])
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "MIT"
