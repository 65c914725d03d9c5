"""What ``peerkit generate`` writes, computed from the schemas (pure: text in, text out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from . import render, typescript
from .layout import Layout, template
from .schema import ServiceSchema

Owner = Literal["peerkit", "developer"]


@dataclass(frozen=True)
class Planned:
    path: str  # relative to the app root
    content: str
    owner: Owner


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
            f"{layout.pkg}/generated/{s}.ts",
            typescript.render_client(schema, schema.path),
            "peerkit",
        ),
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
    if any(not m.peers for m in handled):
        peerkit_names.append("UserOnly")
    imports = ["import pytest", f"from peerkit import {', '.join(sorted(peerkit_names))}"]
    testing_names = []
    if any(m.requires for m in handled):
        imports.append("from peerkit.auth.errors import AuthMissing")
        testing_names.append("refused_one_way")
    if any(m.kind == "event" for m in handled):
        testing_names.append("make_actor")
    if testing_names:
        imports.append(f"from peerkit.testing import {', '.join(sorted(testing_names))}")
    imports.append("")  # the app's own imports: a section of their own (isort)
    if names:
        imports.append(render.import_block(generated, names))
    imports.append(f"from {layout.package}.services.{schema.service} import {schema.class_name}")
    tests = []
    for m in handled:
        kind = "request_test.py.tmpl" if m.kind == "request" else "event_test.py.tmpl"
        if m.requires:
            kind = "guarded_request_test.py.tmpl"
        elif m.kind == "request" and not m.peers:
            kind = "user_request_test.py.tmpl"
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
