"""Service schemas: YAML files checked against the meta-schema, then turned into a model.

Errors name the file, the line and the field (``schemas/shop.yaml:12: messages.Order.fields.qty:
-1 is less than the minimum of 0``). Everything here is pure apart from reading the file.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import msgspec

from peerkit.config import line_of, load_yaml_mapping, plain_yaml, read_config_text
from peerkit.errors import PeerkitError


class SchemaError(PeerkitError):
    """A service schema is invalid; the message starts with ``file:line: field:``."""

    code = "schema"

    def __init__(
        self, message: str, *, path: str, line: int | None = None, hint: str | None = None
    ):
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line


#: schema type name -> (Python annotation, import it needs)
SCALARS: dict[str, tuple[str, str | None]] = {
    "str": ("str", None),
    "int": ("int", None),
    "float": ("float", None),
    "bool": ("bool", None),
    "bytes": ("bytes", None),
    "cid": ("CID", "CID"),
    "peer_id": ("PeerId", "PeerId"),
    "name": ("Name", "Name"),
}
#: example values that satisfy peerkit's own identifier patterns
EXAMPLES: dict[str, Any] = {
    "str": "example",
    "int": 1,
    "float": 1.5,
    "bool": True,
    "bytes": b"example",
    "cid": "bafyreidykglsfhoixmivffc5uwhcgshx4j465xwqntbmu43nb2dzqwfvae",
    "peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
    "name": "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8",
}
#: methods every generated service inherits (Actor, Service): a handler may not replace them
RESERVED_METHODS = frozenset(
    {
        "on_start",
        "on_stop",
        "receive",
        "dispatch_table",
        "handled_types",
        "dependencies",
        "factory",
        "not_implemented",
        "validate",
        "middleware",
        "node",
        "log",
        "ref",
        "name",
    }
)
#: names the generated module imports or defines itself
RESERVED_TYPES = frozenset(
    {"Message", "Request", "Event", "Service", "Context", "Annotated", "Literal", "Requires"}
    | {"CID", "PeerId", "Name", "Ack"}
)
CONSTRAINTS = ("min_length", "max_length", "ge", "le", "gt", "lt", "pattern")


@dataclass(frozen=True)
class TypeExpr:
    """A parsed field type: a scalar, a message name, list[T] or dict[str, T]."""

    kind: str  # "scalar" | "message" | "list" | "dict"
    name: str = ""
    item: TypeExpr | None = None


@dataclass
class FieldDef:
    name: str
    type: TypeExpr
    type_text: str
    optional: bool = False
    default: Any = msgspec.UNSET
    example: Any = msgspec.UNSET
    enum: list[Any] | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    line: int | None = None


@dataclass
class MessageDef:
    name: str
    kind: str  # "message" | "request" | "event"
    tag: str
    reply: str | None = None
    topic: str | None = None
    handler: str | None = None  # method name, when the service handles it
    requires: tuple[str, str] | None = None  # (ability, resource template) remote callers prove
    peers: bool = True  # False: served to the peer's own user only (handler(peers=False))
    description: str = ""
    fields: list[FieldDef] = field(default_factory=list)
    line: int | None = None


@dataclass
class ServiceSchema:
    service: str
    path: str
    description: str
    messages: list[MessageDef]

    @property
    def class_name(self) -> str:
        return camel(self.service)

    @property
    def base_name(self) -> str:
        return f"{self.class_name}Service"

    def message(self, name: str) -> MessageDef:
        return next(m for m in self.messages if m.name == name)

    def handled(self) -> list[MessageDef]:
        return [m for m in self.messages if m.handler]


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_") if part)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def meta_schema() -> dict[str, Any]:
    text = resources.files("peerkit._generators.service").joinpath("meta-schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_schema(path: Path, *, package: str, display: str | None = None) -> ServiceSchema:
    """Read, validate and model one schema file. ``display`` is the path shown in errors."""
    shown = display or str(path)
    text = read_config_text(path, hint="service schemas live in schemas/NAME.yaml")
    try:
        doc = load_yaml_mapping(text, shown)
    except PeerkitError as exc:
        raise SchemaError(str(exc).removeprefix(f"{shown}: "), path=shown) from None
    return parse_schema(doc, package=package, path=shown)


def parse_schema(doc: Any, *, package: str, path: str) -> ServiceSchema:
    _check_meta(doc, path)
    plain = plain_yaml(doc)
    service = plain["service"]
    if keyword.iskeyword(service):
        raise _err(doc, path, ["service"], f"{service!r} is a Python keyword (it names a module)")
    stem = Path(path).stem
    if stem != service and not path.startswith("<"):
        raise SchemaError(
            f"service: {service!r} does not match the file name {stem}.yaml",
            path=path,
            line=line_of(doc, ["service"]),
            hint=f"rename the file to {service}.yaml or the service to {stem!r}",
        )
    prefix = plain.get("tag_prefix") or f"{package}.{service}"
    names = list(plain["messages"])
    taken = RESERVED_TYPES | {f"{camel(service)}Service"}
    for name in names:
        if name in taken:
            raise _err(
                doc,
                path,
                ["messages", name],
                f"{name!r} is a name the generated module already uses; pick another",
            )
    handles = plain.get("handles")
    messages = []
    for name, spec in plain["messages"].items():
        where = ["messages", name]
        kind = spec.get("kind", "message")
        msg = MessageDef(
            name=name,
            kind=kind,
            tag=spec.get("tag") or f"{prefix}.{name}",
            reply=spec.get("reply"),
            topic=spec.get("topic"),
            description=spec.get("description", ""),
            line=line_of(doc, where),
        )
        if "requires" in spec:
            msg.requires = (spec["requires"]["can"], spec["requires"]["on"])
        msg.peers = bool(spec.get("peers", True))
        if msg.reply is not None and msg.reply not in names:
            raise _err(doc, path, [*where, "reply"], f"reply type {msg.reply!r} is not declared")
        wanted = name in handles if handles is not None else kind in ("request", "event")
        if handles is not None and name in handles and kind == "message":
            raise _err(
                doc,
                path,
                ["handles"],
                f"{name} is a plain message; only requests and events are handled",
            )
        if wanted:
            msg.handler = spec.get("handler") or (
                f"on_{snake(name)}" if kind == "event" else snake(name)
            )
            if keyword.iskeyword(msg.handler) or msg.handler in RESERVED_METHODS:
                at = [*where, "handler"] if "handler" in spec else where
                raise _err(
                    doc,
                    path,
                    at,
                    f"the handler name {msg.handler!r} is taken (a Python keyword or a"
                    " method every service has); give it another with `handler:`",
                )
        elif "handler" in spec:
            raise _err(doc, path, [*where, "handler"], f"{name} is not handled by this service")
        for fname, fspec in (spec.get("fields") or {}).items():
            msg.fields.append(_field(doc, path, [*where, "fields", fname], fname, fspec, names))
        messages.append(msg)
    for fname in handles or []:
        if fname not in names:
            raise _err(doc, path, ["handles"], f"handles {fname!r}, which is not declared")
    _check_unique(doc, path, messages)
    for m in messages:
        if m.requires is not None:
            _check_template(doc, path, m)
    return ServiceSchema(service, path, plain.get("description", ""), _ordered(messages, doc, path))


def _field(
    doc: Any, path: str, where: list[str | int], name: str, spec: Any, names: list[str]
) -> FieldDef:
    if keyword.iskeyword(name) or name == "type":
        raise _err(doc, path, where, f"{name!r} cannot be a field name (reserved)")
    type_where = where if isinstance(spec, str) else [*where, "type"]
    if isinstance(spec, str):
        spec = {"type": spec}
    spec = {k: _builtin(v) for k, v in spec.items()}
    text = spec["type"].strip()
    optional = text.endswith("?")
    text = text.removesuffix("?").strip()
    try:
        texpr = parse_type(text, names)
    except ValueError as exc:
        raise _err(doc, path, type_where, str(exc)) from None
    f = FieldDef(
        name=name,
        type=texpr,
        type_text=text,
        optional=optional or bool(spec.get("optional")),
        enum=spec.get("enum"),
        constraints={k: spec[k] for k in CONSTRAINTS if k in spec},
        description=spec.get("description", ""),
        line=line_of(doc, where),
    )
    if "default" in spec:
        f.default = spec["default"]
    if "example" in spec:
        f.example = spec["example"]
    if f.enum is not None and texpr.kind != "scalar":
        raise _err(doc, path, [*where, "enum"], "enum needs a str or int field")
    if f.constraints and texpr.kind == "message":
        raise _err(doc, path, where, "constraints apply to scalars, lists and dicts")
    if "pattern" in f.constraints:
        try:
            re.compile(f.constraints["pattern"])
        except re.error as exc:
            raise _err(
                doc, path, [*where, "pattern"], f"not a valid regular expression: {exc}"
            ) from None
    for key in ("default", "example"):
        if key in spec:
            _check_value(doc, path, [*where, key], f, spec[key])
    return f


def _builtin(value: Any) -> Any:
    """ruamel's scalar subclasses (ScalarInt, ScalarFloat...) as plain Python values."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_builtin(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _builtin(v) for k, v in value.items()}
    return value


def _check_value(doc: Any, path: str, where: list[str | int], f: FieldDef, value: Any) -> None:
    """A default or example must be a valid value of the field (type and constraints)."""
    if f.type.kind == "message" or (f.type.item is not None and f.type.item.kind == "message"):
        if value is None and f.optional:
            return
        raise _err(doc, path, where, "a message-typed field takes no default or example")
    try:
        msgspec.convert(value, python_type(f), strict=True)
    except (msgspec.ValidationError, TypeError) as exc:
        raise _err(doc, path, where, f"{value!r} is not a valid {f.type_text}: {exc}") from None


def python_type(f: FieldDef) -> Any:
    """The field's type as msgspec checks it (scalars and containers of scalars)."""
    import builtins
    import typing

    import peerkit.types as peerkit_types

    def base(t: TypeExpr) -> Any:
        if t.kind == "scalar":
            name = SCALARS[t.name][0]
            return getattr(peerkit_types if SCALARS[t.name][1] else builtins, name)
        assert t.item is not None
        return list[base(t.item)] if t.kind == "list" else dict[str, base(t.item)]  # type: ignore[misc]

    tp: Any = typing.Literal[tuple(f.enum)] if f.enum is not None else base(f.type)
    if f.constraints:
        tp = typing.Annotated[tp, msgspec.Meta(**f.constraints)]
    return tp | None if f.optional else tp


_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\[\s*str\s*,(.+)\]$")


def parse_type(text: str, names: list[str]) -> TypeExpr:
    text = text.strip()
    if text in SCALARS:
        return TypeExpr("scalar", text)
    if text in names:
        return TypeExpr("message", text)
    m = _LIST.match(text)
    if m:
        return TypeExpr("list", item=parse_type(m.group(1), names))
    m = _DICT.match(text)
    if m:
        return TypeExpr("dict", item=parse_type(m.group(1), names))
    known = ", ".join([*SCALARS, "list[T]", "dict[str, T]", "a message declared here"])
    raise ValueError(f"unknown type {text!r} (known: {known})")


def _check_meta(doc: Any, path: str) -> None:
    validator = jsonschema.Draft202012Validator(meta_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(plain_yaml(doc)))
    if error is None:
        return
    steps: list[str | int] = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            steps.append(extra[0])
            message = f"unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
    elif error.validator == "pattern":
        message = f"{error.instance!r} does not match {error.validator_value}"
        if "propertyNames" in error.schema_path:  # a bad key: point at the key itself
            steps.append(error.instance)
            message += " (type names are CamelCase, field names snake_case)"
    elif error.validator == "oneOf" and error.instance is not None:
        message = "a field is a type name (`str`) or a mapping with `type:` and constraints"
    raise _err(doc, path, steps, message)


def _err(doc: Any, path: str, steps: list[str | int], message: str) -> SchemaError:
    field_path = ".".join(str(s) for s in steps)
    text = f"{field_path}: {message}" if field_path else message
    return SchemaError(text, path=path, line=line_of(doc, steps) or 1)


def _check_template(doc: Any, path: str, m: MessageDef) -> None:
    """``requires.on`` may only name the request's own fields (``name:{name}``)."""
    assert m.requires is not None
    fields = {f.name for f in m.fields}
    for placeholder in re.findall(r"\{([^{}]*)\}", m.requires[1]):
        if placeholder not in fields:
            raise _err(
                doc,
                path,
                ["messages", m.name, "requires", "on"],
                f"{{{placeholder}}} is not a field of {m.name}",
            )


def _check_unique(doc: Any, path: str, messages: list[MessageDef]) -> None:
    seen: dict[str, str] = {}
    methods: dict[str, str] = {}
    for m in messages:
        if m.tag in seen:
            raise _err(doc, path, ["messages", m.name], f"tag {m.tag!r} is also {seen[m.tag]}'s")
        seen[m.tag] = m.name
        if m.handler:
            if m.handler in methods:
                raise _err(
                    doc,
                    path,
                    ["messages", m.name],
                    f"handler name {m.handler!r} is also used for {methods[m.handler]}",
                )
            methods[m.handler] = m.name


def _ordered(messages: list[MessageDef], doc: Any, path: str) -> list[MessageDef]:
    """Reply types before the requests naming them (``reply=`` needs the class)."""
    by_name = {m.name: m for m in messages}
    done: list[MessageDef] = []
    visiting: set[str] = set()

    def visit(m: MessageDef) -> None:
        if m in done:
            return
        if m.name in visiting:
            raise _err(doc, path, ["messages", m.name], "reply types form a cycle")
        visiting.add(m.name)
        if m.reply:
            visit(by_name[m.reply])
        visiting.discard(m.name)
        done.append(m)

    for m in messages:
        visit(m)
    return done
