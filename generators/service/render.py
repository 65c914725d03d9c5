"""Schema model -> source text (pure). Every file's skeleton is a template in templates/service/;
the per-message pieces are built here because their shape follows the schema."""

from __future__ import annotations

import ast
import base64
import json
import re
import textwrap
import typing
from dataclasses import dataclass
from typing import Any

import msgspec

import peerkit.types as peerkit_types

from .schema import EXAMPLES, SCALARS, FieldDef, MessageDef, SchemaError, ServiceSchema, TypeExpr


@dataclass(frozen=True)
class Example:
    """An example value of a message: the constructor code and the wire payload."""

    code: str
    payload: Any


def _bytes(value: bytes) -> str:
    """A bytes literal as ruff format writes it (double quotes unless the bytes hold one)."""
    text = repr(value)
    if text.startswith("b'") and '"' not in text[2:-1]:
        return 'b"' + text[2:-1].replace("\\'", "'") + '"'
    return text


def py(value: Any) -> str:
    """Python source for a plain value, in the style of ruff format (double quotes; long runs
    of one character written as a product)."""
    if isinstance(value, str):
        if len(value) > 16 and len(set(value)) == 1:
            return f"{py(value[0])} * {len(value)}"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        if len(value) > 16 and len(set(value)) == 1:
            return f"{_bytes(value[:1])} * {len(value)}"
        return _bytes(value)
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    return repr(value)


# --- annotations ----------------------------------------------------------------------------


def annotation(f: FieldDef) -> str:
    if f.enum is not None:
        base = f"Literal[{', '.join(py(v) for v in f.enum)}]"
    else:
        base = _type_text(f.type)
    meta = _meta_args(f)
    if meta:
        base = f"Annotated[{base}, msgspec.Meta({meta})]"
    if f.optional:
        base = f"{base} | None"
    return base


def _type_text(t: TypeExpr) -> str:
    if t.kind == "scalar":
        return SCALARS[t.name][0]
    if t.kind == "message":
        return t.name
    assert t.item is not None
    inner = _type_text(t.item)
    return f"list[{inner}]" if t.kind == "list" else f"dict[str, {inner}]"


def _meta_args(f: FieldDef) -> str:
    args = [f"{k}={py(v)}" for k, v in f.constraints.items()]
    if f.description:
        args.append(f"description={py(f.description)}")
    return ", ".join(args)


def default_text(f: FieldDef) -> str:
    if f.default is not msgspec.UNSET and f.type.name == "bytes" and isinstance(f.default, str):
        # in the schema a bytes value is written as in JSON: base64 text
        return f" = {py(base64.b64decode(f.default))}"
    if f.default is not msgspec.UNSET:
        if isinstance(f.default, list | dict):
            if f.default:
                return f" = msgspec.field(default_factory=lambda: {py(f.default)})"
            return f" = msgspec.field(default_factory={type(f.default).__name__})"
        return f" = {py(f.default)}"
    if f.optional:
        return " = None"
    return ""


def imports_needed(schema: ServiceSchema) -> list[str]:
    """peerkit.types names the generated module needs."""
    wanted: set[str] = set()

    def walk(t: TypeExpr) -> None:
        if t.kind == "scalar" and SCALARS[t.name][1]:
            wanted.add(SCALARS[t.name][1] or "")
        if t.item is not None:
            walk(t.item)

    for m in schema.messages:
        for f in m.fields:
            walk(f.type)
    return sorted(wanted)


# --- message classes ------------------------------------------------------------------------


def message_class(m: MessageDef) -> str:
    base = {"message": "Message", "request": "Request", "event": "Event"}[m.kind]
    keywords = [f"tag={py(m.tag)}"]
    if m.reply:
        keywords.append(f"reply={m.reply}")
    if m.topic:
        keywords.append(f"topic={py(m.topic)}")
    lines = [f"class {m.name}({base}, {', '.join(keywords)}):"]
    if m.description:
        lines.append(f"    {_docstring(m.description)}")
        if m.fields:
            lines.append("")
    for f in m.fields:
        lines.append(f"    {f.name}: {annotation(f)}{default_text(f)}")
    if not m.fields and not m.description:
        lines.append("    pass")
    return "\n".join(lines)


def _docstring(text: str, indent: str = "    ") -> str:
    """A class docstring, wrapped to the line width as a person would write it."""
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''")
    one = f'"""{text}"""'
    if len(indent) + len(one) <= WIDTH:
        return one
    lines = textwrap.wrap(text, WIDTH - len(indent) - 3, break_on_hyphens=False)
    body = "\n".join(indent + line for line in lines[1:])
    return f'"""{lines[0]}\n{body}\n{indent}"""'


def reply_annotation(m: MessageDef) -> str:
    return m.reply if m.reply else "None"


def stub(m: MessageDef, *, decorated: bool) -> str:
    """One handler method: on the generated base (decorated) or in the developer's class."""
    lines = []
    options = []
    if m.requires:
        can, on = m.requires
        options.append(f"requires=Requires({py(can)}, on={py(on)})")
    if not m.peers:
        options.append("peers=False")
    if decorated and options:
        lines.append(f"    @handler({', '.join(options)})")
    elif decorated:
        lines.append("    @handler")
    lines.append(
        f"    async def {m.handler}(self, msg: {m.name}, ctx: Context) -> {reply_annotation(m)}:"
    )
    lines.append("        raise self.not_implemented(msg)")
    return "\n".join(lines)


def handler_names(schema: ServiceSchema) -> list[str]:
    """The names the developer's service module imports from the generated module."""
    names = {schema.base_name}
    for m in schema.handled():
        names.add(m.name)
        if m.reply:
            names.add(m.reply)
    return sorted(names)


def _isort_key(name: str) -> tuple[int, str, str]:
    """isort's (and ruff's) order of imported names: CONSTANTS, Classes, then the rest, each
    case-insensitively (ReaderCard before ReadPost)."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name.lower(), name


def import_block(module: str, names: list[str]) -> str:
    body = "".join(f"    {n},\n" for n in sorted(names, key=_isort_key))
    return f"from {module} import (\n{body})"


# --- examples for the generated tests -------------------------------------------------------


def example(schema: ServiceSchema, m: MessageDef, _depth: int = 0) -> Example:
    parts: list[str] = []
    payload: dict[str, Any] = {}
    for f in m.fields:
        value = field_example(schema, f, _depth)
        if value is None:
            continue
        parts.append(f"{f.name}={value.code}")
        payload[f.name] = value.payload
    return Example(f"{m.name}({', '.join(parts)})", payload)


def field_example(schema: ServiceSchema, f: FieldDef, depth: int = 0) -> Example | None:
    if f.example is not msgspec.UNSET:
        return Example(_code_of(schema, f.type, f.example), f.example)
    if f.default is not msgspec.UNSET or (f.optional and depth > 0):
        return None  # the default is the example
    if f.enum is not None:
        return Example(py(f.enum[0]), f.enum[0])
    value = _typed_example(schema, f.type, f, depth)
    return value


def _typed_example(schema: ServiceSchema, t: TypeExpr, f: FieldDef, depth: int) -> Example | None:
    c = f.constraints
    if t.kind == "message":
        if depth > 3:
            return None
        inner = example(schema, schema.message(t.name), depth + 1)
        return inner
    if t.kind in ("list", "dict"):
        count = int(c.get("min_length", 0))
        assert t.item is not None
        item = _typed_example(schema, t.item, FieldDef("item", t.item, ""), depth + 1)
        if item is None or count == 0:
            empty = "[]" if t.kind == "list" else "{}"
            return Example(empty, [] if t.kind == "list" else {})
        if t.kind == "list":
            return Example(f"[{', '.join([item.code] * count)}]", [item.payload] * count)
        keys = [f"k{i}" for i in range(count)]
        return Example(
            "{" + ", ".join(f"{py(k)}: {item.code}" for k in keys) + "}",
            {k: item.payload for k in keys},
        )
    name = t.name
    value: Any = EXAMPLES[name]
    if name in ("str", "bytes"):
        lo, hi = c.get("min_length", 0), c.get("max_length")
        if len(value) < lo:
            value = value + value[:1] * (lo - len(value))
        if hi is not None and len(value) > hi:
            value = value[:hi]
        if "pattern" in c and name == "str" and not re.search(c["pattern"], value):
            raise SchemaError(
                f"messages: field {f.name!r} has a pattern and no example that matches it",
                path=schema.path,
                line=f.line,
                hint=f"add `example:` to {f.name} (the generated tests use it)",
            )
    elif name in ("int", "float"):
        step = 1 if name == "int" else 0.5
        if "ge" in c:
            value = max(value, c["ge"])
        if "gt" in c:
            value = max(value, c["gt"] + step)
        if "le" in c:
            value = min(value, c["le"])
        if "lt" in c:
            value = min(value, c["lt"] - step)
        value = int(value) if name == "int" else float(value)
    return Example(py(value), value)


def _code_of(schema: ServiceSchema, t: TypeExpr, value: Any) -> str:
    if t.kind == "message" and isinstance(value, dict):
        m = schema.message(t.name)
        fields = {f.name: f for f in m.fields}
        parts = [
            f"{k}={_code_of(schema, fields[k].type, v) if k in fields else py(v)}"
            for k, v in value.items()
        ]
        return f"{t.name}({', '.join(parts)})"
    if t.kind == "list" and isinstance(value, list) and t.item is not None:
        return "[" + ", ".join(_code_of(schema, t.item, v) for v in value) + "]"
    return py(value)


def violations(schema: ServiceSchema, m: MessageDef) -> list[tuple[str, Any]]:
    """(field, bad value) pairs: each breaks exactly one rule of one field."""
    out: list[tuple[str, Any]] = []
    for f in m.fields:
        c = f.constraints
        t = f.type
        if f.enum is not None:
            out.append((f.name, "not-a-member" if isinstance(f.enum[0], str) else -(10**9)))
            continue
        if t.kind == "scalar" and t.name in ("cid", "peer_id", "name"):
            out.append((f.name, "not-a-" + t.name.replace("_", "-")))
        if t.kind == "scalar" and t.name in ("str", "bytes"):
            filler = "x"
            if c.get("min_length", 0) > 0:
                out.append((f.name, filler * (c["min_length"] - 1)))
            if "max_length" in c:
                out.append((f.name, filler * (c["max_length"] + 1)))
            if "pattern" in c and t.name == "str":
                bad = next(
                    (v for v in ("", "!", " ", "\n", "0", "a") if not re.search(c["pattern"], v)),
                    None,
                )
                if bad is not None:
                    out.append((f.name, bad))
        if t.kind == "scalar" and t.name in ("int", "float"):
            step = 1 if t.name == "int" else 0.5
            if "ge" in c:
                out.append((f.name, c["ge"] - step))
            if "gt" in c:
                out.append((f.name, c["gt"]))
            if "le" in c:
                out.append((f.name, c["le"] + step))
            if "lt" in c:
                out.append((f.name, c["lt"]))
        if t.kind == "list" and c.get("min_length", 0) > 0:
            out.append((f.name, []))
        if not f.optional and f.default is msgspec.UNSET and t.kind == "scalar":
            wrong: Any = 12345 if t.name in ("str", "bytes", "cid", "peer_id", "name") else "12345"
            if t.name == "bool":
                wrong = "yes"
            if (f.name, wrong) not in out:
                out.append((f.name, wrong))
    return out


def json_schema(schema: ServiceSchema) -> str:
    """The JSON Schema (2020-12) of the service's messages as they travel (msgspec's JSON form:
    bytes as base64 text; ``type`` carries the tag)."""
    defs = {}
    for m in schema.messages:
        props: dict[str, Any] = {"type": {"const": m.tag}}
        required = ["type"]
        for f in m.fields:
            props[f.name] = _field_schema(f)
            if f.default is msgspec.UNSET and not f.optional:
                required.append(f.name)
        body: dict[str, Any] = {
            "type": "object",
            "title": m.name,
            "properties": props,
            "required": required,
        }
        if m.description:
            body["description"] = " ".join(m.description.split())
        if m.kind == "request":
            body["x-peerkit-reply"] = m.reply or "peerkit.Ack"
            if not m.peers:
                body["x-peerkit-peers"] = False
        if m.kind == "event":
            body["x-peerkit-topic"] = m.topic or m.tag
        defs[m.name] = body
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{schema.service} service messages",
        "$defs": defs,
    }
    return json.dumps(doc, indent=2) + "\n"


def _field_schema(f: FieldDef) -> dict[str, Any]:
    out: dict[str, Any] = {"enum": list(f.enum)} if f.enum is not None else _type_schema(f.type)
    c = f.constraints
    names = {
        "min_length": "minItems" if f.type.kind == "list" else "minLength",
        "max_length": "maxItems" if f.type.kind == "list" else "maxLength",
        "ge": "minimum",
        "le": "maximum",
        "gt": "exclusiveMinimum",
        "lt": "exclusiveMaximum",
        "pattern": "pattern",
    }
    if f.type.kind == "dict":
        names.update(min_length="minProperties", max_length="maxProperties")
    for key, value in c.items():
        out[names[key]] = value
    if f.description:
        out["description"] = f.description
    if f.optional:
        out = {"anyOf": [out, {"type": "null"}]}
    if f.default is not msgspec.UNSET:
        out["default"] = f.default
    return out


def _type_schema(t: TypeExpr) -> dict[str, Any]:
    if t.kind == "message":
        return {"$ref": f"#/$defs/{t.name}"}
    if t.kind == "list":
        assert t.item is not None
        return {"type": "array", "items": _type_schema(t.item)}
    if t.kind == "dict":
        assert t.item is not None
        return {"type": "object", "additionalProperties": _type_schema(t.item)}
    simple = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "bytes": {"type": "string", "contentEncoding": "base64"},
    }
    if t.name in simple:
        return dict(simple[t.name])
    meta = typing.get_args(getattr(peerkit_types, SCALARS[t.name][0]))[1]
    return {"type": "string", "pattern": meta.pattern, "description": meta.description}


# --- laying out example expressions as ruff format would -------------------------------------

WIDTH = 100


def fit(code: str, *, indent: int, used: int, width: int = WIDTH) -> str:
    """``code`` (a Python expression) on one line if it fits after ``used`` columns, else with
    its outermost call/list exploded one item per line (magic trailing commas, so ruff format
    keeps the layout), recursively."""
    return _layout(ast.parse(code, mode="eval").body, indent, used, width)


def _flat(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        args = [_flat(a) for a in node.args] + [f"{k.arg}={_flat(k.value)}" for k in node.keywords]
        return f"{_flat(node.func)}({', '.join(args)})"
    if isinstance(node, ast.List):
        return "[" + ", ".join(_flat(e) for e in node.elts) + "]"
    if isinstance(node, ast.Dict):
        pairs = [f"{_flat(k)}: {_flat(v)}" for k, v in zip(node.keys, node.values, strict=True)]  # type: ignore[arg-type]
        return "{" + ", ".join(pairs) + "}"
    if isinstance(node, ast.Constant):
        return py(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return f"{_flat(node.left)} * {_flat(node.right)}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return "-" + _flat(node.operand)
    if isinstance(node, ast.Name):
        return node.id
    return ast.unparse(node)


def _layout(node: ast.expr, indent: int, used: int, width: int) -> str:
    flat = _flat(node)
    if used + len(flat) <= width:
        return flat
    inner = indent + 4
    items: list[tuple[str, ast.expr]]
    if isinstance(node, ast.Call) and (node.args or node.keywords):
        opening, closing = f"{_flat(node.func)}(", ")"
        items = [("", a) for a in node.args] + [(f"{k.arg}=", k.value) for k in node.keywords]
    elif isinstance(node, ast.List) and node.elts:
        opening, closing = "[", "]"
        items = [("", e) for e in node.elts]
    else:
        return flat  # nothing to break: a long string stays long
    lines = [opening]
    for label, value in items:
        text = _layout(value, inner, inner + len(label), width - 1)  # room for the comma
        lines.append(" " * inner + label + text + ",")
    lines.append(" " * indent + closing)
    return "\n".join(lines)
