"""The import contracts in pyproject.toml say what each family's ``needs`` says."""

import tomllib
from pathlib import Path

from peerkit.extension import BUILTIN, load

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_each_family_may_import_exactly_the_families_it_needs():
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    families = {load(spec).name: load(spec).needs + load(spec).uses for spec in BUILTIN}
    for name, needs in families.items():
        contract = next((c for c in contracts if c["source_modules"] == [f"peerkit.{name}"]), None)
        assert contract is not None, f"no import contract for the {name} family"
        forbidden = {m.removeprefix("peerkit.") for m in contract["forbidden_modules"]}
        assert forbidden == set(families) - {name} - set(needs), (
            f"the {name} contract forbids {sorted(forbidden)} but it needs {sorted(needs)}"
        )


def test_a_need_is_installed_first():
    order = [load(spec).name for spec in BUILTIN]
    for position, name in enumerate(order):
        ext = load(BUILTIN[position])
        for need in ext.needs + ext.uses:
            assert order.index(need) < position, f"{name} needs {need}, installed after it"
