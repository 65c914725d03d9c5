"""Writing a plan: peerkit's files rewritten, the developer's merged, configs registered;
``--check`` compares instead; ``destroy`` undoes a service."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .layout import GeneratorError, Layout, load_all
from .merge import merge_service_module
from .plan import Planned, plan, plan_service
from .schema import load_schema


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


def round_trip_yaml() -> YAML:
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
        yaml = round_trip_yaml()
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
