"""Where an app keeps its schemas, code and tests (``[tool.peerkit]``), and its templates."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from peerkit.errors import PeerkitError

from .schema import ServiceSchema, load_schema


class GeneratorError(PeerkitError):
    code = "generator"


@dataclass(frozen=True)
class Layout:
    """Where an app keeps things; read from ``[tool.peerkit]`` in its pyproject.toml."""

    root: Path
    package: str
    package_dir: str = ""  # relative to root; default: the package name
    schemas: str = "schemas"
    tests: str = "tests"
    configs: tuple[str, ...] = ("peer.yaml", "formation.yaml")

    @property
    def pkg(self) -> str:
        return self.package_dir or self.package.replace(".", "/")

    def generated_module(self, service: str) -> str:
        return f"{self.pkg}/generated/{service}.py"

    def service_module(self, service: str) -> str:
        return f"{self.pkg}/services/{service}.py"

    def service_spec(self, schema: ServiceSchema) -> str:
        return f"{self.package}.services.{schema.service}:{schema.class_name}"


def find_layout(root: Path) -> Layout:
    pyproject = root / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GeneratorError(
            f"no pyproject.toml in {root}",
            hint="run peerkit generate from your app's folder (the one `peerkit new` made)",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise GeneratorError(f"{pyproject}: not valid TOML: {exc}") from None
    conf = data.get("tool", {}).get("peerkit")
    if not isinstance(conf, dict) or not isinstance(conf.get("package"), str):
        raise GeneratorError(
            f'{pyproject} has no [tool.peerkit] package = "..."',
            hint='add:\n[tool.peerkit]\npackage = "yourapp"',
        )
    known = {"package", "package_dir", "schemas", "tests", "configs"}
    unknown = set(conf) - known
    if unknown:
        raise GeneratorError(
            f"{pyproject}: unknown [tool.peerkit] key(s): {', '.join(sorted(unknown))}",
            hint=f"known keys: {', '.join(sorted(known))}",
        )
    return Layout(
        root=root,
        package=conf["package"],
        package_dir=conf.get("package_dir", ""),
        schemas=conf.get("schemas", "schemas"),
        tests=conf.get("tests", "tests"),
        configs=tuple(conf.get("configs", ("peer.yaml", "formation.yaml"))),
    )


def template(layout: Layout, name: str) -> Template:
    """An app's own ``templates/service/NAME`` wins over the one shipped with peerkit."""
    own = layout.root / "templates" / "service" / name
    if own.is_file():
        return Template(own.read_text(encoding="utf-8"))
    return Template(resources.files("peerkit._templates.service").joinpath(name).read_text())


def load_all(layout: Layout) -> list[ServiceSchema]:
    folder = layout.root / layout.schemas
    schemas = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        shown = f"{layout.schemas}/{path.name}"
        schemas.append(load_schema(path, package=layout.package, display=shown))
    tags: dict[str, str] = {}
    for s in schemas:
        for m in s.messages:
            if m.tag in tags:
                raise GeneratorError(
                    f"{s.path}: tag {m.tag!r} of {m.name} is also used in {tags[m.tag]}",
                    hint="give one of them another tag (or tag_prefix)",
                )
            tags[m.tag] = s.path
    return schemas
