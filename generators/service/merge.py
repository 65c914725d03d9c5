"""Bringing the developer's service module up to date without touching what they wrote."""

from __future__ import annotations

import ast

from . import render
from .layout import Layout
from .schema import ServiceSchema


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
