"""Every decoder that reads bytes from outside is total: a value or a typed PeerkitError.

Structure-aware fuzzing (hypothesis): valid frames and envelopes of every registered message
type, mutated; payloads nested to any depth; random bytes. ``make soak`` runs the same
properties with many more examples (``HYPOTHESIS_PROFILE=soak``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import cbrrr
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peerkit.auth.messages
import peerkit.dcs.messages
import peerkit.naming.messages
import peerkit.rendezvous.messages
import peerkit.storage.messages  # noqa: F401  (registers the built-in message types)
from peerkit.auth.guard import unpack
from peerkit.auth.tokens import parse
from peerkit.blocks import decode as decode_dag_cbor
from peerkit.bounds import MAX_DEPTH, too_deep
from peerkit.config import parse_config
from peerkit.errors import ConfigError, PeerkitError
from peerkit.messages import default_registry
from peerkit.naming.records import verify_record
from peerkit.storage.car import read_car
from peerkit.wire import (
    EVENT,
    PUBLISH,
    REQUEST,
    FrameDecoder,
    decode_envelope,
    decode_envelope_in_python,
    decode_payload,
    decode_payload_in_python,
    encode_frame,
)

settings.register_profile(
    "soak", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile("default", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TAGS = sorted(default_registry.tags()) if hasattr(default_registry, "tags") else []


def nested(depth: int, leaf: bytes = b"\x00", container: bytes = b"\x91") -> bytes:
    """msgpack (or CBOR with container=b'\\x81') of ``depth`` one-element arrays."""
    return container * depth + leaf


def envelope(kind: int, tag: str, payload: bytes, auth: bytes | None = None) -> bytes:
    head = b"\x95" if auth is not None else b"\x94"
    body = head + msgspec.msgpack.encode(kind) + b"\x00" + msgspec.msgpack.encode(tag) + payload
    if auth is not None:
        body += msgspec.msgpack.encode(auth)
    return body


def total(fn, *args, **kwargs):
    """Call ``fn``; any exception other than a PeerkitError fails the test."""
    try:
        result = fn(*args, **kwargs)
        if hasattr(result, "__next__"):
            result = list(result)
        return result
    except PeerkitError:
        return None


def outcome(fn, *args):
    """What ``fn`` gives: its value, or its typed error's class and text."""
    try:
        return fn(*args)
    except PeerkitError as exc:
        return type(exc), str(exc)


def envelope_is_total(body: bytes) -> None:
    env = total(decode_envelope, body)
    # peerkit.wire's names are its C helper where it was built: the Python functions it hands
    # its uncommon cases to must come to the same value or error
    assert outcome(decode_envelope_in_python, body) == outcome(decode_envelope, body)
    if env is None:
        return
    msg_type = default_registry.get(env.tag)
    if msg_type is not None:
        msg = total(decode_payload, env, msg_type)
        assert outcome(decode_payload_in_python, env, msg_type) == outcome(
            decode_payload, env, msg_type
        )
        if msg is not None:
            assert not too_deep(msgspec.structs.astuple(msg))


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


# --- the reported attack, and its neighbours -------------------------------------------------


@pytest.mark.parametrize("tag", ["x.unknown", "storage.WantBlocks", "storage.PutDocument"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("kind", [REQUEST, EVENT, PUBLISH])
def test_deeply_nested_payload_is_a_typed_error(tag, depth, kind):
    envelope_is_total(envelope(kind, tag, nested(depth)))
    envelope_is_total(envelope(kind, tag, nested(depth, container=b"\x81\xa1k")))  # maps


# A dapp's wallet code imports eth_account, whose py_ecc raises the recursion limit to 100,000:
# msgspec, which recurses in C up to that limit, would then exhaust the thread's stack on a
# 30 KB frame and kill the process (SIGSEGV) instead of raising. In a child process, so that a
# regression fails this test instead of the test run.
_UNDER_A_RAISED_LIMIT = """
import sys
import eth_account  # noqa: F401
assert sys.getrecursionlimit() >= 100_000, sys.getrecursionlimit()
from typing import Any
import msgspec
from peerkit.errors import PeerkitError
from peerkit.messages import Message, Request
from peerkit import wire
from peerkit.gateway.api import decode_json

class Loose(Request, tag="abuse.Loose"):
    value: Any

DEPTH = 100_000
deep = b"\\x91" * DEPTH + b"\\x00"
tag = msgspec.msgpack.encode("abuse.Loose")
payload = b"\\x82\\xa4type" + tag + b"\\xa5value" + deep
loose = b"\\x94\\x00\\x00" + tag + payload
unknown = b"\\x94\\x00\\x00" + msgspec.msgpack.encode("abuse.Unknown") + deep
raw = wire.Envelope(0, 0, "abuse.Loose", msgspec.Raw(payload))
cases = {
    "C helper, Any field": lambda: wire.decode_envelope(loose),
    "Python, Any field": lambda: wire.decode_envelope_in_python(loose),
    "C helper, skipped payload": lambda: wire.decode_envelope(unknown),
    "Python, skipped payload": lambda: wire.decode_envelope_in_python(unknown),
    "payload decoded apart": lambda: wire.decode_payload(raw, Loose),
    "HTTP JSON body": lambda: decode_json(Loose, b'{"value":' + b"[" * DEPTH + b"]" * DEPTH + b"}"),
}
for name, call in cases.items():
    try:
        call()
        print(name, "accepted")
    except PeerkitError as exc:
        print(name, type(exc).__name__)
print("limit", sys.getrecursionlimit())
"""


def test_deep_frames_are_typed_errors_where_the_recursion_limit_was_raised():
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_A_RAISED_LIMIT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.splitlines() == [
        "C helper, Any field MalformedMessage",
        "Python, Any field MalformedMessage",
        "C helper, skipped payload MalformedMessage",
        "Python, skipped payload MalformedMessage",
        "payload decoded apart ValidationFailed",
        "HTTP JSON body ValidationFailed",
        "limit 100000",  # restored after each decode
    ]


def test_payload_just_within_the_depth_bound_is_accepted():
    # PutDocument.document is dict[str, Any]: 99 nested maps inside it are fine
    doc = {"a": 1}
    for _ in range(MAX_DEPTH - 3):
        doc = {"k": doc}
    body = envelope(
        REQUEST,
        "storage.PutDocument",
        msgspec.msgpack.encode({"type": "storage.PutDocument", "document": doc}),
    )
    env = decode_envelope(body)
    decode_payload(env, default_registry.get("storage.PutDocument"))


def test_deep_auth_container_and_tokens():
    for depth in (MAX_DEPTH + 1, 5_000):
        total(unpack, nested(depth, container=b"\x81"))
        total(parse, b"\xe8\x01" + nested(depth, container=b"\x81"))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deep_dag_cbor_block_is_refused(depth):
    assert total(decode_dag_cbor, nested(depth, container=b"\x81")) is None


def test_deep_car_header_and_block_are_refused():
    header = nested(5_000, container=b"\x81")
    car = msgspec.msgpack.encode(len(header))[:0] + bytes([0x80 | (len(header) & 0x7F)])
    car += bytes([len(header) >> 7]) + header
    total(read_car, car)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_200])  # 1,200: past ruamel's recursion
def test_deep_yaml_config_is_a_config_error(depth):
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_config("a: " + "[" * depth + "]" * depth)
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_config("name: " + "{x: " * depth + "1" + "}" * depth)


# --- properties --------------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_as_envelope(data):
    envelope_is_total(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.integers(min_value=-1, max_value=6),
    tag=st.sampled_from(TAGS or ["x"]) | st.text(max_size=40),
    payload=msgpack_values,
    auth=st.none() | st.binary(max_size=64),
)
def test_structured_envelopes(kind, tag, payload, auth):
    envelope_is_total(envelope(kind, tag, msgspec.msgpack.encode(payload), auth))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    tag=st.sampled_from(TAGS or ["x"]),
    fields=st.dictionaries(st.text(max_size=12), msgpack_values, max_size=6),
    depth=st.integers(min_value=0, max_value=400),
)
def test_registered_types_with_junk_and_depth(tag, fields, depth):
    payload = msgspec.msgpack.encode({"type": tag, **fields})
    envelope_is_total(envelope(REQUEST, tag, payload))
    # the same payload with every value wrapped ``depth`` levels down
    wrapped = {"type": tag, **{k: _wrap(v, depth) for k, v in fields.items()}}
    envelope_is_total(envelope(REQUEST, tag, msgspec.msgpack.encode(wrapped)))


def _wrap(value, depth):
    for _ in range(depth):
        value = [value]
    return value


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1, max_value=64))
def test_frame_decoder_splits_any_stream(chunks, cut):
    decoder = FrameDecoder(max_frame=256)
    stream = b"".join(encode_frame(c) for c in chunks)
    for i in range(0, len(stream), cut):
        frames = total(decoder.feed, stream[i : i + cut])
        if frames is None:
            return  # a frame over the limit: the stream is reset
        for body in frames:
            envelope_is_total(body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1024))
def test_random_bytes_as_dag_cbor_token_record_and_car(data):
    total(decode_dag_cbor, data)
    total(unpack, data)
    total(parse, data)
    total(read_car, data)
    total(
        verify_record,
        "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8",
        data,
        now=datetime.now(UTC),
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(msgpack_values)
def test_dag_cbor_of_any_value(value):
    try:
        data = cbrrr.encode_dag_cbor(value)
    except Exception:
        return  # not representable (floats, integer range): nothing to decode
    total(decode_dag_cbor, data)
    total(parse, b"\xe8\x01" + data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_as_peer_yaml(text):
    total(parse_config, text)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_links_of_a_deep_fetched_block_are_refused(depth):
    from peerkit.blocks import DAG_CBOR, Block, cid_for, links
    from peerkit.storage.errors import NotCanonical

    data = nested(depth, container=b"\x81")
    with pytest.raises(NotCanonical, match="nests deeper"):
        links(Block(cid_for(data, DAG_CBOR), data))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=130), st.sampled_from([b"\x81", b"\xa1\x61k"]))
def test_the_cheap_depth_precheck_never_lets_a_deep_value_through(depth, container):
    # decode skips the walk when the bytes cannot hold deep nesting: it must agree with the walk
    data = nested(depth, container=container)
    deep = too_deep(cbrrr.decode_dag_cbor(data))
    assert (total(decode_dag_cbor, data) is None) == deep
