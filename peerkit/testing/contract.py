"""Assertions the generated contract tests use: every message round-trips on the wire under its
tag, matches the published JSON Schema, and bad input is rejected naming the field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import msgspec

from ..errors import ValidationFailed
from ..messages import Event, Message, tag_of
from ..wire import REQUEST, decode_envelope, decode_payload, encode_envelope


def assert_round_trip(msg: Message, *, tag: str) -> None:
    """``msg`` is encoded under ``tag`` and decodes to an equal message through the wire codec."""
    assert tag_of(type(msg)) == tag, (
        f"{type(msg).__name__} has tag {tag_of(type(msg))!r}, not {tag!r}"
    )
    env = decode_envelope(encode_envelope(REQUEST, 1, msg))
    assert env.tag == tag
    decoded = decode_payload(env, type(msg))
    assert decoded == msg, f"{msg!r} came back as {decoded!r}"


def assert_rejected(example: Message, field: str, value: Any) -> None:
    """``example`` with ``field`` set to ``value`` is refused by the wire decoder, which names
    the field (so a handler never sees it)."""
    msg_type = type(example)
    tag = tag_of(msg_type)
    payload = msgspec.to_builtins(example, builtin_types=(bytes,))
    payload[field] = value
    body = msgspec.msgpack.encode((REQUEST, 1, tag, payload))
    env = decode_envelope(body)
    try:
        decoded = decode_payload(env, msg_type)
    except ValidationFailed as exc:
        assert f"$.{field}" in str(exc), f"the error does not name {field}: {exc}"
        return
    raise AssertionError(f"{msg_type.__name__} accepted {field}={value!r}: {decoded!r}")


@cache
def _schema(location: str) -> dict[str, Any]:
    package, _, name = location.partition("/")
    doc: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text())
    return doc


def assert_matches_json_schema(msg: Message, location: str) -> None:
    """``msg`` (as JSON) validates against its definition in the JSON Schema file at
    ``package/file.json``."""
    doc = _schema(location)
    name = type(msg).__name__
    schema = {**doc, "$ref": f"#/$defs/{name}"}
    instance = json.loads(msgspec.json.encode(msg))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    assert not errors, f"{name} does not match {location}: {errors[0].message}"


async def assert_routes(peers: Any, service: type, handled: Sequence[type[Message]]) -> None:
    """A peer running ``service`` routes each of ``handled`` to it (events: on their topic)."""
    (node,) = await peers(1, services=[service])
    for msg_type in handled:
        route = node.router.match(tag_of(msg_type))
        assert route is not None, f"{tag_of(msg_type)} is not routed"
        assert any(ref.actor_type is service for ref in route.actors), (
            f"{tag_of(msg_type)} goes to {[r.name for r in route.actors]}, not {service.__name__}"
        )
        if issubclass(msg_type, Event):
            assert route.topic is not None
