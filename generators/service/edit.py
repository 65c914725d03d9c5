"""Writing schemas for the developer: ``peerkit generate service|message|request|event ...``.

Each edit is applied to the YAML (comments kept), checked as a whole schema, and only then
written: a bad field spec on the command line changes nothing.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from ruamel.yaml.comments import CommentedMap

from .layout import GeneratorError, Layout, template
from .schema import camel, parse_schema
from .write import round_trip_yaml

_FIELD = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*):(?P<type>.+)$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def parse_fields(specs: list[str]) -> list[tuple[str, str]]:
    """``["name:str", "tags:list[str]", "note:str?"]`` -> [(name, type), ...]."""
    out = []
    for spec in specs:
        m = _FIELD.match(spec)
        if not m:
            raise GeneratorError(
                f"{spec!r} is not a field",
                hint="write fields as name:type, e.g. title:str tags:list[str] note:str?",
            )
        out.append((m.group("name"), m.group("type")))
    return out


def parse_actions(tokens: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``greet name:str farewell`` -> [("greet", [("name", "str")]), ("farewell", [])]."""
    actions: list[tuple[str, list[tuple[str, str]]]] = []
    for token in tokens:
        if ":" in token:
            if not actions:
                raise GeneratorError(
                    f"field {token!r} comes before any handler name",
                    hint="e.g. peerkit generate service greeter greet name:str",
                )
            actions[-1][1].extend(parse_fields([token]))
        elif _ACTION.match(token):
            actions.append((token, []))
        else:
            raise GeneratorError(
                f"{token!r} is not a handler name",
                hint="handler names are snake_case, e.g. greet or place_order",
            )
    return actions


def schema_text(layout: Layout, service: str) -> str:
    return template(layout, "schema.yaml.tmpl").substitute(service=service)


def new_service(layout: Layout, service: str, tokens: list[str]) -> str:
    """The text of a new schema with a request (and its reply) per action."""
    path = layout.root / layout.schemas / f"{service}.yaml"
    if path.exists():
        raise GeneratorError(
            f"{layout.schemas}/{service}.yaml already exists",
            hint="add types with peerkit generate request|message|event",
        )
    text = schema_text(layout, service)
    for action, fields in parse_actions(tokens):
        name = camel(action)
        text = add_message(
            layout,
            text,
            service,
            name,
            "request",
            fields,
            reply=f"{name}Reply",
            path_hint=str(path),
        )
    return text


def add_message(
    layout: Layout,
    text: str,
    service: str,
    name: str,
    kind: str,
    fields: list[tuple[str, str]],
    *,
    reply: str | None = None,
    topic: str | None = None,
    path_hint: str = "",
) -> str:
    """Add a message type (or fields to an existing one) to a schema's text."""
    if not _TYPE_NAME.match(name):
        raise GeneratorError(f"{name!r} is not a type name", hint="use CamelCase, e.g. PlaceOrder")
    yaml = round_trip_yaml()
    doc = yaml.load(text)
    messages = doc.get("messages")
    if not isinstance(messages, dict) or not messages:
        messages = CommentedMap()
        doc["messages"] = messages
    entry = messages.get(name)
    if entry is None:
        entry = CommentedMap()
        if kind != "message":
            entry["kind"] = kind
        messages[name] = entry
    elif entry.get("kind", "message") != kind:
        raise GeneratorError(
            f"{name} already exists as a {entry.get('kind', 'message')}, not a {kind}",
            hint="pick another name, or edit the schema by hand",
        )
    if reply is not None:
        if reply not in messages:
            reply_entry = CommentedMap()
            messages[reply] = reply_entry
        entry["reply"] = reply
    if topic is not None:
        entry["topic"] = topic
    if fields:
        existing = entry.get("fields")
        if not isinstance(existing, dict) or not existing:
            existing = CommentedMap()
            entry["fields"] = existing
        for fname, ftype in fields:
            if fname in existing:
                raise GeneratorError(f"{name} already has a field {fname!r}")
            existing[fname] = ftype
    # Empty mappings print as {} (valid, and clearer than a bare key).
    for value in messages.values():
        if isinstance(value, CommentedMap):
            value.fa.set_block_style()
    buf = StringIO()
    yaml.dump(doc, buf)
    new_text = buf.getvalue()
    check_text(layout, new_text, service, path_hint or f"{layout.schemas}/{service}.yaml")
    return new_text


def check_text(layout: Layout, text: str, service: str, path: str) -> None:
    from peerkit.config import load_yaml_mapping

    doc: Any = load_yaml_mapping(text, path)
    parse_schema(doc, package=layout.package, path=f"{layout.schemas}/{service}.yaml")


def remove_message(layout: Layout, text: str, service: str, name: str) -> str:
    yaml = round_trip_yaml()
    doc = yaml.load(text)
    messages = doc.get("messages") or {}
    if name not in messages:
        raise GeneratorError(f"{layout.schemas}/{service}.yaml has no message {name!r}")
    users = [
        other
        for other, spec in messages.items()
        if other != name and isinstance(spec, dict) and spec.get("reply") == name
    ]
    if users:
        raise GeneratorError(
            f"{name} is the reply of {', '.join(users)}",
            hint=f"destroy {', '.join(users)} first",
        )
    del messages[name]
    buf = StringIO()
    yaml.dump(doc, buf)
    new_text = buf.getvalue()
    check_text(layout, new_text, service, f"{layout.schemas}/{service}.yaml")
    return new_text
