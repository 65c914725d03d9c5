"""The app generator behind ``peerkit new``: a plan of files (pure), then writing it."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from peerkit._generators.service.layout import GeneratorError

#: an app's name: its project (and folder) name; dashes become underscores in its package
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
#: names a package may not take: each would shadow something the app needs
_SHADOWING = {
    "peerkit": "the app's package would hide peerkit itself",
    "test": "a package named test hides Python's own test package",
    "tests": "the app's tests live in tests/; a package of that name would collide",
}


def package_name(app: str) -> str:
    """The Python package of an app: ``my-app`` -> ``my_app``."""
    return app.replace("-", "_")


def check_name(app: str) -> str:
    """The app's package name; GeneratorError saying why when the name cannot be used."""
    if not _NAME.match(app) or app.endswith("-") or "--" in app:
        raise GeneratorError(
            f"{app!r} is not a usable app name: it must start with a lowercase letter and"
            " hold only lowercase letters, digits, '-' and '_' (at most 41)",
            hint="for example: my-app (its package is my_app)",
        )
    package = package_name(app)
    if keyword.iskeyword(package):
        raise GeneratorError(
            f"{app!r} is a Python keyword: no module can be named {package!r}",
            hint=f"try {app}-app",
        )
    if package in _SHADOWING:
        raise GeneratorError(
            f"{app!r} cannot be an app name: {_SHADOWING[package]}", hint=f"try my-{app}"
        )
    return package


def peerkit_requirement() -> str:
    """What a new app depends on: the peerkit it was made with. From a source checkout (not
    published yet), a direct reference to that checkout, so the app installs with nothing but
    Python; from an installed release, that release or later."""
    import peerkit

    root = Path(peerkit.__file__).resolve().parent.parent
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "peerkit"' in project.read_text():
        return f"peerkit @ {root.as_uri()}"
    return f"peerkit>={peerkit.__version__}"


@dataclass(frozen=True)
class PlannedFile:
    path: str  # relative to the app folder
    content: str


def _template(name: str) -> Template:
    return Template(resources.files("peerkit._templates.app").joinpath(name).read_text())


def usage() -> str:
    return resources.files("peerkit._generators.app").joinpath("USAGE").read_text()


def plan_app(app: str, *, sample: bool = True) -> list[PlannedFile]:
    """Every file of a new app (no I/O beyond reading templates).

    With the sample, the greeter service is made the way ``peerkit generate`` makes any
    service (from schemas/greeter.yaml), then its handlers and tests are filled in.
    """
    project = app
    app = check_name(project)  # from here on: the package
    services = f'"{app}.services.greeter:Greeter"' if sample else ""
    values = {"app": app, "project": project, "peerkit": peerkit_requirement()}
    files = [
        PlannedFile(path, _template(t).substitute(values) if t else "")
        for path, t in [
            ("pyproject.toml", "pyproject.toml.tmpl"),
            ("README.md", "README.md.tmpl"),
            ("peer.yaml", "peer.yaml.tmpl"),
            ("formation.yaml", "formation.yaml.tmpl"),
            (".gitignore", "gitignore.tmpl"),
            ("Containerfile", "Containerfile.tmpl"),
            (f"{app}/__init__.py", None),
            (f"{app}/services/__init__.py", None),
            ("tests/__init__.py", None),
        ]
    ]
    if not sample:
        return files
    files = [
        PlannedFile(f.path, f.content.replace("services: []", f"services: [{services}]"))
        if f.path in ("peer.yaml", "formation.yaml")
        else f
        for f in files
    ]
    schema_text = _template("greeter.yaml.tmpl").substitute(values)
    files.append(PlannedFile("schemas/greeter.yaml", schema_text))
    written_by_hand = {
        f"{app}/services/greeter.py": "greeter_service.py.tmpl",
        "tests/test_greeter.py": "test_greeter.py.tmpl",
    }
    have = {f.path for f in files}
    for f in _generate_service(app, schema_text):
        if f.path in have:
            continue
        content = f.content
        if f.path in written_by_hand:
            content = _template(written_by_hand[f.path]).substitute(values)
        files.append(PlannedFile(f.path, content))
    return files


def _generate_service(app: str, schema_text: str) -> list[PlannedFile]:
    from peerkit._generators.service.generator import Layout, plan
    from peerkit._generators.service.schema import parse_schema

    from peerkit.config import load_yaml_mapping

    doc = load_yaml_mapping(schema_text, "schemas/greeter.yaml")
    schema = parse_schema(doc, package=app, path="schemas/greeter.yaml")
    layout = Layout(root=Path("/nonexistent"), package=app)
    return [PlannedFile(f.path, f.content) for f in plan(layout, [schema])]


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
