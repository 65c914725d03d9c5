"""``peerkit generate``: schemas/*.yaml -> message types, service bases, JSON Schemas and tests.

Two kinds of output:

- **peerkit's** files (``PACKAGE/generated/``, ``tests/generated/``) are rewritten freely;
- **the developer's** files (``PACKAGE/services/NAME.py``, ``tests/test_NAME.py``) are created
  once; later runs only add stubs for new handlers and refresh the import from the generated
  module. Handler bodies are never touched.

The plan is computed first (pure: text in, text out), then written, or only compared
(``--check``, which CI uses to catch a generated tree that drifted from its schemas).
"""

from __future__ import annotations

import ast
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from io import StringIO
from pathlib import Path
from string import Template
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from peerkit.errors import PeerkitError

from . import render
from .schema import ServiceSchema, load_schema

Owner = Literal["peerkit", "developer"]


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


@dataclass(frozen=True)
class Planned:
    path: str  # relative to the app root
    content: str
    owner: Owner


@dataclass
class Outcome:
    """What a run did (or, with check=True, would do), by path."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


def template(layout: Layout, name: str) -> Template:
    """An app's own ``templates/service/NAME`` wins over the one shipped with peerkit."""
    own = layout.root / "templates" / "service" / name
    if own.is_file():
        return Template(own.read_text(encoding="utf-8"))
    return Template(resources.files("peerkit._templates.service").joinpath(name).read_text())


# --- loading --------------------------------------------------------------------------------


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


# --- planning (pure) ------------------------------------------------------------------------


def plan(layout: Layout, schemas: list[ServiceSchema]) -> list[Planned]:
    files: list[Planned] = []
    if schemas:
        init = template(layout, "generated_init.py.tmpl").substitute()
        files.append(Planned(f"{layout.pkg}/generated/__init__.py", init, "peerkit"))
        files.append(Planned(f"{layout.tests}/generated/__init__.py", "", "peerkit"))
    for schema in schemas:
        files += plan_service(layout, schema)
    return files


def plan_service(layout: Layout, schema: ServiceSchema) -> list[Planned]:
    s = schema.service
    values = {
        "service": s,
        "schema_path": schema.path,
        "service_module_path": layout.service_module(s),
        "base_name": schema.base_name,
        "class_name": schema.class_name,
    }
    return [
        Planned(layout.generated_module(s), _generated_module(layout, schema, values), "peerkit"),
        Planned(f"{layout.pkg}/generated/{s}.schema.json", render.json_schema(schema), "peerkit"),
        Planned(
            f"{layout.tests}/generated/test_{s}_contract.py",
            _contract_tests(layout, schema, values),
            "peerkit",
        ),
        Planned(f"{layout.pkg}/services/__init__.py", "", "developer"),
        Planned(layout.service_module(s), fresh_service_module(layout, schema), "developer"),
        Planned(f"{layout.tests}/test_{s}.py", _service_tests(layout, schema, values), "developer"),
    ]


def _generated_module(layout: Layout, schema: ServiceSchema, values: dict[str, str]) -> str:
    messages = "\n\n\n".join(render.message_class(m) for m in schema.messages)
    stubs = "\n\n".join(render.stub(m, decorated=True) for m in schema.handled()) or "    pass"
    code = messages + stubs
    used = [n for n in ("Annotated", "Literal") if f"{n}[" in code]
    # Grouped as isort sees them in an app: stdlib, then third party (msgspec, peerkit).
    imports = [f"from typing import {', '.join(used)}", ""] if used else []
    if "msgspec." in code:
        imports += ["import msgspec"]
    kinds = [n for n in ("Event", "Message", "Request") if f"({n}, tag=" in code]
    if schema.handled():
        kinds = ["Context", *kinds, "handler"]
    imports.append(f"from peerkit import {', '.join(kinds)}")
    if any(m.requires for m in schema.handled()):
        imports.append("from peerkit.auth.guard import Requires")
    imports.append("from peerkit.service import Service")
    types = render.imports_needed(schema)
    if types:
        imports.append(f"from peerkit.types import {', '.join(types)}")
    return template(layout, "generated.py.tmpl").substitute(
        values, imports="\n".join(imports), messages=messages, stubs=stubs
    )


def fresh_service_module(layout: Layout, schema: ServiceSchema) -> str:
    stubs = "\n\n".join(render.stub(m, decorated=False) for m in schema.handled()) or "    pass"
    block = render.import_block(f"..generated.{schema.service}", render.handler_names(schema))
    return template(layout, "service.py.tmpl").substitute(
        service=schema.service,
        schema_path=schema.path,
        import_block=block,
        class_name=schema.class_name,
        base_name=schema.base_name,
        stubs=stubs,
    )


def _service_tests(layout: Layout, schema: ServiceSchema, values: dict[str, str]) -> str:
    generated = f"{layout.package}.generated.{schema.service}"
    handled = schema.handled()
    names = sorted(
        {m.name for m in handled}
        | {m.reply for m in handled if m.reply}
        | _nested_names(schema, handled)
    )
    peerkit_names = ["NotImplementedHandler"]
    if any(m.kind == "event" for m in handled):
        peerkit_names.append("Context")
    if any(m.kind == "request" and not m.reply for m in handled):
        peerkit_names.append("Ack")
    imports = ["import pytest", f"from peerkit import {', '.join(sorted(peerkit_names))}"]
    if any(m.requires for m in handled):
        imports.append("from peerkit.auth.errors import AuthMissing")
    if any(m.kind == "event" for m in handled):
        imports.append("from peerkit.testing import make_actor")
    imports.append("")  # the app's own imports: a section of their own (isort)
    if names:
        imports.append(render.import_block(generated, names))
    imports.append(f"from {layout.package}.services.{schema.service} import {schema.class_name}")
    tests = []
    for m in handled:
        kind = "request_test.py.tmpl" if m.kind == "request" else "event_test.py.tmpl"
        if m.requires:
            kind = "guarded_request_test.py.tmpl"
        tests.append(
            template(layout, kind).substitute(
                values,
                handler=m.handler,
                example=render.fit(render.example(schema, m).code, indent=4, used=14),
                reply=m.reply or "Ack",
            )
        )
    if not handled:
        imports = []
    return template(layout, "test_service.py.tmpl").substitute(
        values, imports="\n".join(imports), tests="".join(tests).rstrip("\n")
    )


def _contract_tests(layout: Layout, schema: ServiceSchema, values: dict[str, str]) -> str:
    generated = f"{layout.package}.generated.{schema.service}"
    names = [m.name for m in schema.messages]
    imports = ["", render.import_block(generated, sorted(names))]
    imports.append(f"from {layout.package}.services.{schema.service} import {schema.class_name}")
    examples = "\n".join(
        f"    {render.fit(render.example(schema, m).code, indent=4, used=4, width=99)},"
        for m in schema.messages
    )
    tags = "\n".join(f"    {m.name}: {render.py(m.tag)}," for m in schema.messages)
    invalid = "\n".join(
        f"    ({m.name}, {render.py(fname)}, {render.py(value)}),"
        for m in schema.messages
        for fname, value in render.violations(schema, m)
    )
    handled = ", ".join(m.name for m in schema.handled())
    return template(layout, "test_contract.py.tmpl").substitute(
        values,
        imports="\n".join(imports),
        json_schema_path=f"{layout.package}.generated/{schema.service}.schema.json",
        examples=examples,
        tags=tags,
        invalid=invalid,
        handled=handled,
    )


def _nested_names(schema: ServiceSchema, messages: list[Any]) -> set[str]:
    """Message types used inside the examples of ``messages`` (their constructors appear)."""
    found: set[str] = set()
    for m in messages:
        code = render.example(schema, m).code
        for other in schema.messages:
            if f"{other.name}(" in code:
                found.add(other.name)
    return found


# --- merging into the developer's module ----------------------------------------------------


def merge_service_module(text: str, layout: Layout, schema: ServiceSchema) -> tuple[str, list[str]]:
    """Add stubs for handlers the developer's class lacks and refresh the generated import.

    Returns the new text and notes for the developer. Never changes an existing method.
    """
    notes: list[str] = []
    path = layout.service_module(schema.service)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return text, [f"{path}:{exc.lineno}: not valid Python, left as it is ({exc.msg})"]
    cls = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id == schema.base_name for b in n.bases)
        ),
        None,
    )
    imp = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.ImportFrom)
            and (n.module or "").endswith(f"generated.{schema.service}")
        ),
        None,
    )
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (start, end) 0-based line slice -> replacement
    if cls is None:
        notes.append(f"{path}: no class derives from {schema.base_name}; stubs not added")
    else:
        have = {n.name for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        missing = [m for m in schema.handled() if m.handler not in have]
        if missing:
            stubs = "".join("\n" + render.stub(m, decorated=False) + "\n" for m in missing)
            end = cls.end_lineno or len(lines)
            edits.append((end, end, stubs))
            notes += [f"{path}: added a stub for {cls.name}.{m.handler}" for m in missing]
        handled = {m.handler for m in schema.handled()}
        base_methods = {"on_start", "on_stop", "__init__", "not_implemented", "receive"}
        for n in cls.body:
            if (
                isinstance(n, ast.AsyncFunctionDef)
                and n.name not in handled | base_methods
                and n.args.args
                and len(n.args.args) >= 2
                and n.args.args[1].arg == "msg"
            ):
                notes.append(
                    f"{path}: {cls.name}.{n.name} no longer handles a message of the schema;"
                    " remove it when you are done with it"
                )
    if imp is not None:
        existing = {a.name for a in imp.names}
        declared = {m.name for m in schema.messages} | {schema.base_name}
        wanted = (existing & declared) | set(render.handler_names(schema))
        for gone in sorted(existing - declared):
            notes.append(f"{path}: {gone} is no longer in {schema.path}; dropped from the import")
        names = sorted(wanted)
        module = ("." * imp.level) + (imp.module or "")
        block = render.import_block(module, names) + "\n"
        if "".join(lines[imp.lineno - 1 : imp.end_lineno]) != block:
            edits.append((imp.lineno - 1, imp.end_lineno or imp.lineno, block))
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start:end] = [replacement]
    return "".join(lines), notes


# --- writing --------------------------------------------------------------------------------


def apply(layout: Layout, files: list[Planned], *, check: bool = False) -> Outcome:
    """Write the plan (or with ``check`` only say what would change)."""
    out = Outcome()
    by_service = {layout.service_module(s.service): s for s in load_all(layout)}
    written = _load_written(layout)
    for f in files:
        target = layout.root / f.path
        current = target.read_text(encoding="utf-8") if target.exists() else None
        content = f.content
        if current is not None and f.owner == "developer":
            schema = by_service.get(f.path)
            if schema is None:
                continue  # created once, the developer's since
            content, notes = merge_service_module(current, layout, schema)
            out.notes += notes
        if current == content:
            continue
        (out.created if current is None else out.updated).append(f.path)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            if f.owner == "developer":
                written[f.path] = _digest(content)
    if written and not check:
        _save_written(layout, written)
    stale = _stale_owned(layout, {f.path for f in files})
    for path in stale:
        out.removed.append(path)
        if not check:
            (layout.root / path).unlink()
    for schema in by_service.values():
        for config in register(layout, layout.service_spec(schema), check=check):
            out.updated.append(config)
    return out


def _stale_owned(layout: Layout, planned: set[str]) -> list[str]:
    """Generated files whose schema is gone."""
    stale = []
    for folder, pattern in (
        (f"{layout.pkg}/generated", "*.py"),
        (f"{layout.pkg}/generated", "*.schema.json"),
        (f"{layout.tests}/generated", "test_*_contract.py"),
        (f"{layout.tests}/generated", "__init__.py"),
    ):
        for path in sorted((layout.root / folder).glob(pattern)):
            rel = path.relative_to(layout.root).as_posix()
            if rel not in planned:
                stale.append(rel)
    return stale


# --- what peerkit last wrote into the developer's files -------------------------------------
# destroy deletes a developer file only when it is exactly what peerkit last wrote there.


def _written_path(layout: Layout) -> Path:
    return layout.root / ".peerkit" / "written.json"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _load_written(layout: Layout) -> dict[str, str]:
    try:
        data = json.loads(_written_path(layout).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_written(layout: Layout, written: dict[str, str]) -> None:
    path = _written_path(layout)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# --- peer.yaml / formation.yaml -------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    return yaml


def register(layout: Layout, spec: str, *, check: bool = False, remove: bool = False) -> list[str]:
    """Add (or remove) a service in the ``services:`` lists of the app's configs.

    Only lists that already exist are touched, in a peer config and in every formation role
    that runs services; comments and layout are kept (ruamel round trip).
    """
    changed = []
    for rel in layout.configs:
        path = layout.root / rel
        if not path.is_file():
            continue
        yaml = _yaml()
        text = path.read_text(encoding="utf-8")
        doc = yaml.load(text)
        if not isinstance(doc, dict):
            continue
        holders = []
        if isinstance(doc.get("roles"), dict):
            holders = [r for r in doc["roles"].values() if isinstance(r, dict) and "services" in r]
        elif "services" in doc:
            holders = [doc]
        touched = False
        for holder in holders:
            services = holder["services"]
            if not isinstance(services, list):
                continue
            if remove and spec in services:
                services.remove(spec)
                touched = True
            elif not remove and spec not in services:
                services.append(DoubleQuotedScalarString(spec))
                touched = True
            services.fa.set_flow_style()  # one line, as peerkit new writes it
        if touched:
            changed.append(rel)
            if not check:
                buf = StringIO()
                yaml.dump(doc, buf)
                path.write_text(buf.getvalue(), encoding="utf-8")
    return changed


# --- destroy --------------------------------------------------------------------------------


def destroy_service(layout: Layout, service: str, *, force: bool = False) -> Outcome:
    """Undo ``generate service``: schema, generated files, the developer's files (only when
    unchanged, unless ``force``) and the config entries."""
    out = Outcome()
    schema_path = layout.root / layout.schemas / f"{service}.yaml"
    if not schema_path.exists():
        raise GeneratorError(
            f"there is no service {service!r} ({layout.schemas}/{service}.yaml not found)",
            hint="peerkit routes lists the services of this app",
        )
    schema = load_schema(
        schema_path, package=layout.package, display=f"{layout.schemas}/{service}.yaml"
    )
    planned = plan_service(layout, schema)
    written = _load_written(layout)
    edited = []
    for f in planned:
        target = layout.root / f.path
        if f.owner != "developer" or f.path.endswith("__init__.py") or not target.exists():
            continue
        current = target.read_text(encoding="utf-8")
        if current != f.content and _digest(current) != written.get(f.path):
            edited.append(f.path)
    if edited and not force:
        raise GeneratorError(
            f"{', '.join(edited)} {'has' if len(edited) == 1 else 'have'} your edits",
            hint="pass --force to delete them anyway",
        )
    out.updated += register(layout, layout.service_spec(schema), remove=True)
    schema_path.unlink()
    out.removed.append(f"{layout.schemas}/{service}.yaml")
    for f in planned:
        if f.path.endswith("__init__.py"):
            continue
        target = layout.root / f.path
        if target.exists():
            target.unlink()
            out.removed.append(f.path)
    rest = plan(layout, load_all(layout))
    for path in _stale_owned(layout, {f.path for f in rest}):
        (layout.root / path).unlink()
        out.removed.append(path)
    for f in planned:
        written.pop(f.path, None)
    if _written_path(layout).exists():
        if written:
            _save_written(layout, written)
        else:
            _written_path(layout).unlink()
    for folder in (
        f"{layout.pkg}/generated",
        f"{layout.tests}/generated",
        layout.schemas,
        ".peerkit",
    ):
        _remove_if_empty(layout.root / folder)
    return out


def _remove_if_empty(folder: Path) -> None:
    if not folder.is_dir():
        return
    pycache = folder / "__pycache__"
    if pycache.is_dir() and not any(p for p in folder.iterdir() if p != pycache):
        for p in pycache.iterdir():
            p.unlink()
        pycache.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()
