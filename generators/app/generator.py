"""The app generator behind ``peerkit new``: a plan of files (pure), then writing it."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from peerkit.errors import PeerkitError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class GeneratorError(PeerkitError):
    code = "generator"


@dataclass(frozen=True)
class PlannedFile:
    path: str  # relative to the app folder
    content: str


def _template(name: str) -> Template:
    return Template(resources.files("peerkit._templates.app").joinpath(name).read_text())


def usage() -> str:
    return resources.files("peerkit._generators.app").joinpath("USAGE").read_text()


def plan_app(app: str, *, sample: bool = True) -> list[PlannedFile]:
    """Every file of a new app (no I/O beyond reading templates)."""
    if not _NAME.match(app) or keyword.iskeyword(app) or app in {"peerkit", "test", "tests"}:
        raise GeneratorError(
            f"{app!r} is not a usable app name",
            hint="use lowercase letters, digits and underscores, starting with a letter",
        )
    services = f'"{app}.services:Greeter"' if sample else ""
    values = {"app": app, "services": services}
    files = [
        ("pyproject.toml", "pyproject.toml.tmpl"),
        ("README.md", "README.md.tmpl"),
        ("peer.yaml", "peer.yaml.tmpl"),
        ("formation.yaml", "formation.yaml.tmpl"),
        (".gitignore", "gitignore.tmpl"),
        (f"{app}/__init__.py", None),
        ("tests/__init__.py", None),
    ]
    if sample:
        files += [
            ("schemas/greeter.yaml", "greeter.yaml.tmpl"),
            (f"{app}/messages.py", "messages.py.tmpl"),
            (f"{app}/services.py", "services.py.tmpl"),
            ("tests/test_greeter.py", "test_greeter.py.tmpl"),
        ]
    else:
        files += [(f"{app}/services.py", "empty_services.py.tmpl")]
    return [PlannedFile(path, _template(t).substitute(values) if t else "") for path, t in files]


def write_app(target: Path, files: list[PlannedFile], *, force: bool = False) -> list[str]:
    """Write the plan; refuse to touch an existing, non-empty folder unless ``force``."""
    if target.exists() and any(target.iterdir()) and not force:
        raise GeneratorError(
            f"{target} exists and is not empty",
            hint="choose another name or --dir, or pass --force",
        )
    written = []
    for f in files:
        path = target / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.content)
        written.append(f.path)
    return written
