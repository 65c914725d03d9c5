"""The worked example in docs/wire.md is what the encoder writes, byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

from peerkit.messages import default_registry
from peerkit.wire import REQUEST, decode_envelope, encode_envelope, encode_frame

from sample_app.generated import greeter  # noqa: F401  (registers sample.Greet)

DOC = Path(__file__).resolve().parents[2] / "docs" / "wire.md"


def test_the_worked_example_is_byte_for_byte_right():
    text = DOC.read_text()
    block = text.split("## Example", 1)[1].split("```", 2)[1]
    hex_bytes = "".join(
        tok
        for line in block.splitlines()
        for tok in re.findall(r"\b[0-9a-f]{2,}\b", line.split("  ")[0])
    )
    documented = bytes.fromhex(hex_bytes)
    greet = default_registry.get("sample.Greet")(name="x")
    assert documented == encode_frame(encode_envelope(REQUEST, 1, greet))
    assert decode_envelope(documented[1:]).payload == greet


# --- docs/messages.md: every built-in message type, rendered from the code ----------------------

MESSAGES_DOC = DOC.with_name("messages.md")
INTRO = """\
# Built-in message types

Every message type the built-in actors speak, as it travels in an envelope (docs/wire.md): the
payload is a msgpack map of these fields plus `"type": <tag>`. Field types: `str` msgpack str,
`int` msgpack int, `float` float 64, `bool`, `bin` msgpack bin (with its allowed length),
`list[...]` array, `dict[...]` map, `any` any msgpack value (nested at most 100 levels), a struct
name: a map of that struct's fields (array-like structs: an array in field order); `?` marks a
field that may be left out (it takes its default). Requests name their reply (`->`), events
their gossipsub topic.

This page is generated from the code and checked by `tests/unit/test_wire_docs.py`; after
changing a built-in type run `python -m tests.unit.test_wire_docs` to rewrite it.
"""


def _type_name(t) -> str:
    import msgspec.inspect as mi

    if isinstance(t, mi.ListType):
        hi = f"(<={t.max_length})" if t.max_length is not None else ""
        return f"list{hi}[{_type_name(t.item_type)}]"
    if isinstance(t, mi.TupleType):
        return f"[{', '.join(_type_name(i) for i in t.item_types)}]"
    if isinstance(t, mi.UnionType):
        return " | ".join(_type_name(u) for u in t.types)
    if isinstance(t, mi.DictType):
        return f"dict[{_type_name(t.key_type)}, {_type_name(t.value_type)}]"
    if isinstance(t, mi.StructType):
        return t.cls.__name__
    if isinstance(t, (mi.BytesType, mi.StrType, mi.IntType)):
        base = {mi.BytesType: "bin", mi.StrType: "str", mi.IntType: "int"}[type(t)]
        lo = getattr(t, "min_length", None) if base != "int" else getattr(t, "ge", None)
        hi = getattr(t, "max_length", None) if base != "int" else getattr(t, "le", None)
        if lo is not None and hi is not None:
            return f"{base}({lo}..{hi})"
        if hi is not None:
            return f"{base}(<={hi})"
        if lo is not None:
            return f"{base}(>={lo})"
        return base
    names = {mi.FloatType: "float", mi.BoolType: "bool", mi.NoneType: "nil", mi.AnyType: "any"}
    return names.get(type(t), type(t).__name__)


def render_messages_doc() -> str:
    import importlib
    import pkgutil

    import msgspec

    import peerkit
    from peerkit.messages import Event, Request, topic_of

    for info in pkgutil.walk_packages(peerkit.__path__, "peerkit."):
        if not info.name.endswith("__main__") and ".cli" not in info.name:
            importlib.import_module(info.name)
    from peerkit.actor import Actor

    local = {t for actor in _subclasses(Actor) for t, spec in actor._handlers.items() if spec.local}
    families: dict[str, list[str]] = {}
    for tag in sorted(default_registry.tags()):
        t = default_registry.get(tag)
        if not t.__module__.startswith("peerkit."):
            continue
        kind = (
            "event" if issubclass(t, Event) else "request" if issubclass(t, Request) else "message"
        )
        if kind == "request":
            reply = getattr(t, "__peerkit_reply__", None)
            reply = reply if isinstance(reply, str) or reply is None else reply.__peerkit_tag__
            kind += f" -> `{reply or 'peerkit.Ack'}`"
        elif kind == "event":
            kind += f" on `{topic_of(t)}`"
        if t in local:
            kind += " (local only: peers cannot send it)"
        fields = ", ".join(
            f"{f.name}: {_type_name(f.type)}{'' if f.required else '?'}"
            for f in msgspec.inspect.type_info(t).fields
        )
        families.setdefault(tag.split(".")[0], []).append(f"| `{tag}` | {kind} | {fields} |")
    out = [INTRO]
    for family in sorted(families):
        out += [f"## {family}", "", "| tag | kind | fields |", "| --- | --- | --- |"]
        out += [*families[family], ""]
    return "\n".join(out)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def test_every_built_in_message_type_is_documented():
    assert MESSAGES_DOC.read_text() == render_messages_doc(), (
        "docs/messages.md is out of date: run python -m tests.unit.test_wire_docs"
    )


if __name__ == "__main__":
    MESSAGES_DOC.write_text(render_messages_doc())
    print(f"wrote {MESSAGES_DOC}")
