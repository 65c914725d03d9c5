import shutil
import sysconfig
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

import peerkit.wire
from peerkit.bounds import MAX_DEPTH, decode_within_c_stack
from peerkit.errors import FrameTooLarge, FrameTruncated, MalformedMessage, ValidationFailed
from peerkit.messages import Event, Message, Registry, RegistryError, Request, tag_of, topic_of
from peerkit.wire import (
    ERROR,
    REQUEST,
    FrameDecoder,
    decode_error_message,
    decode_uvarint,
    encode_error,
    encode_frame,
    encode_uvarint,
)


class Ping(Request, tag="test.wire.Ping"):
    n: int
    note: str = ""


class Pong(Message, tag="test.wire.Pong"):
    n: int


class Posted(Event, tag="test.wire.Posted", topic="test.chat"):
    text: str


# The envelope calls have two implementations that must behave alike: peerkit's C helper
# (peerkit/_envelope_calls.c, what peerkit.wire's names are bound to where it was built) and
# the Python functions it hands its uncommon cases to (installs without a C compiler).
_HELPER = SimpleNamespace(
    encode_envelope=peerkit.wire.encode_envelope,
    decode_envelope=peerkit.wire.decode_envelope,
    decode_payload=peerkit.wire.decode_payload,
)
_PYTHON = SimpleNamespace(
    encode_envelope=peerkit.wire.encode_envelope_in_python,
    decode_envelope=peerkit.wire.decode_envelope_in_python,
    decode_payload=peerkit.wire.decode_payload_in_python,
)


@pytest.fixture(params=["C helper", "Python"])
def calls(request):
    if request.param == "C helper":
        if _HELPER.decode_envelope is _PYTHON.decode_envelope:
            pytest.skip("peerkit's C helper is not built in this install")
        return _HELPER
    return _PYTHON


def test_the_envelope_helper_is_built_where_a_compiler_is():
    # make test on a machine with a C compiler (CI's) exercises the C path, not only Python
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("cc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers here: the Python path serves")
    assert _HELPER.decode_envelope is not _PYTHON.decode_envelope, (
        "peerkit/_envelope_calls.c was not built: run make again"
    )


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16383, 16384, 2**32, 2**63 - 1])
def test_uvarint_round_trip(n):
    raw = encode_uvarint(n)
    assert decode_uvarint(raw) == (n, len(raw))


def test_uvarint_known_vectors():
    assert encode_uvarint(1) == b"\x01"
    assert encode_uvarint(300) == b"\xac\x02"
    assert encode_uvarint(16384) == b"\x80\x80\x01"


def test_uvarint_incomplete_and_malformed():
    assert decode_uvarint(b"\xac") is None
    with pytest.raises(MalformedMessage):
        decode_uvarint(b"\xff" * 10)
    with pytest.raises(MalformedMessage):
        decode_uvarint(b"\x81\x00")  # not minimal


def test_frames_split_across_arbitrary_chunks():
    bodies = [b"a", b"", b"x" * 1000, bytes(range(256)) * 40]
    stream = b"".join(encode_frame(b) for b in bodies)
    for chunk in (1, 2, 7, 1000, len(stream)):
        dec = FrameDecoder(max_frame=1 << 20)
        out = []
        for i in range(0, len(stream), chunk):
            out += dec.feed(stream[i : i + chunk])
        dec.close()
        assert out == bodies


def test_oversized_frame_rejected_from_prefix_alone():
    dec = FrameDecoder(max_frame=1024)
    # Only the prefix arrives: the decoder must refuse before any body is buffered.
    with pytest.raises(FrameTooLarge, match="1025 bytes exceeds the limit of 1024"):
        dec.feed(encode_uvarint(1025))


def test_frame_of_exactly_the_limit_is_accepted():
    dec = FrameDecoder(max_frame=1024)
    assert dec.feed(encode_frame(b"z" * 1024)) == [b"z" * 1024]


def test_truncated_frame_detected_at_end_of_stream():
    dec = FrameDecoder()
    assert dec.feed(encode_frame(b"hello")[:-2]) == []
    with pytest.raises(FrameTruncated):
        dec.close()


def test_large_frame_buffered_by_us():
    # py-libp2p's read_exactly fails past ~6.5 MB; our decoder copes with big frames in pieces.
    body = b"q" * (8 * 1024 * 1024)
    dec = FrameDecoder(max_frame=16 * 1024 * 1024)
    raw = encode_frame(body)
    out = []
    for i in range(0, len(raw), 65536):
        out += dec.feed(raw[i : i + 65536])
    assert out == [body]


def test_envelope_round_trip_and_typed_payload(calls):
    body = calls.encode_envelope(REQUEST, 7, Ping(n=3, note="hi"))
    env = calls.decode_envelope(body)
    assert (env.kind, env.id, env.tag) == (REQUEST, 7, "test.wire.Ping")
    assert calls.decode_payload(env, Ping) == Ping(n=3, note="hi")


def test_error_envelope(calls):
    env = calls.decode_envelope(encode_error(9, "busy", "mailbox full"))
    assert (env.kind, env.id, env.tag) == (ERROR, 9, "busy")
    assert decode_error_message(env) == "mailbox full"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xc1",
        b"\x93\x00\x01",
        msgspec.msgpack.encode([99, 1, "t", None]),
        msgspec.msgpack.encode([0, -1, "t", None]),
        msgspec.msgpack.encode({"kind": 0}),
    ],
)
def test_undecodable_envelopes_raise_malformed(body, calls):
    with pytest.raises(MalformedMessage):
        calls.decode_envelope(body)


def test_unknown_trailing_envelope_fields_are_accepted(calls):
    ping = {"type": "test.wire.Ping", "n": 1}
    body = msgspec.msgpack.encode([0, 1, "test.wire.Ping", ping, b"", "x"])
    env = calls.decode_envelope(body)
    assert calls.decode_payload(env, Ping).n == 1


def test_the_auth_slot_round_trips_and_is_bounded(calls):
    env = calls.decode_envelope(calls.encode_envelope(REQUEST, 7, Ping(n=1), auth=b"token"))
    assert env.auth == b"token" and calls.decode_payload(env, Ping).n == 1
    assert calls.decode_envelope(calls.encode_envelope(REQUEST, 7, Ping(n=1))).auth == b""
    too_big = msgspec.msgpack.encode([0, 1, "test.wire.Ping", {}, b"x" * (64 * 1024 + 1)])
    with pytest.raises(MalformedMessage):
        calls.decode_envelope(too_big)


def test_payload_validation_names_the_field(calls):
    body = msgspec.msgpack.encode([0, 1, "test.wire.Ping", {"type": "test.wire.Ping", "n": "x"}])
    with pytest.raises(ValidationFailed, match=r"\$\.n"):
        calls.decode_payload(calls.decode_envelope(body), Ping)


def test_payload_with_forged_tag_is_rejected(calls):
    body = calls.encode_envelope(REQUEST, 1, Pong(n=1))
    env = calls.decode_envelope(body)
    with pytest.raises(ValidationFailed):
        calls.decode_payload(env, Ping)


def test_unknown_payload_fields_are_ignored(calls):
    payload = {"type": "test.wire.Ping", "n": 2, "added_in_v2": [1, 2]}
    env = calls.decode_envelope(msgspec.msgpack.encode([0, 1, "test.wire.Ping", payload]))
    assert calls.decode_payload(env, Ping) == Ping(n=2)


def test_tags_and_topics():
    assert tag_of(Ping) == "test.wire.Ping"
    assert topic_of(Posted) == "test.chat"
    with pytest.raises(RegistryError):
        tag_of(Request)


def test_a_message_without_its_own_tag_is_never_encoded_under_another(calls):
    class PingSubclass(Ping):  # inherits Ping's fields, not its tag
        pass

    with pytest.raises(RegistryError, match="has no tag"):
        calls.encode_envelope(REQUEST, 1, PingSubclass(n=1))
    with pytest.raises(RegistryError, match="has no tag"):
        calls.encode_envelope(REQUEST, 1, Request())
    body = calls.encode_envelope(REQUEST, 1, Ping(n=1))
    assert calls.decode_envelope(body).tag == "test.wire.Ping"


def test_auth_given_by_position_or_empty_encodes_as_by_keyword(calls):
    ping = Ping(n=1)
    by_keyword = calls.encode_envelope(REQUEST, 7, ping, auth=b"token")
    assert calls.encode_envelope(REQUEST, 7, ping, b"token") == by_keyword
    assert calls.encode_envelope(REQUEST, 7, ping, b"") == calls.encode_envelope(REQUEST, 7, ping)
    assert msgspec.msgpack.decode(calls.encode_envelope(REQUEST, 7, ping, b""))[:3] == [
        REQUEST,
        7,
        "test.wire.Ping",
    ]


class Loose(Message, tag="test.wire.Loose"):
    value: Any


def test_an_envelope_nested_past_the_recursion_limit_is_malformed(calls):
    # an Any field lets the one-pass decoder recurse until msgspec raises RecursionError;
    # both paths turn it into the typed error
    tag = msgspec.msgpack.encode("test.wire.Loose")
    payload = b"\x82\xa4type" + tag + b"\xa5value" + b"\x91" * 100_000 + b"\x00"
    body = b"\x94\x00\x00" + tag + payload
    with pytest.raises(RecursionError):  # the path this test is about
        decode_within_c_stack(peerkit.wire._fast_decode, body)
    with pytest.raises(MalformedMessage, match="nests deeper"):
        calls.decode_envelope(body)


def test_a_type_registered_after_a_decode_is_decoded_in_one_pass(calls):
    calls.decode_envelope(calls.encode_envelope(REQUEST, 1, Ping(n=1)))

    class Late(Message, tag=f"test.wire.Late{id(calls)}"):
        n: int

    env = calls.decode_envelope(calls.encode_envelope(REQUEST, 1, Late(n=5)))
    assert type(env.payload) is Late and calls.decode_payload(env, Late) == Late(n=5)


def test_an_open_payload_is_bounded_on_both_paths(calls):
    deep: Any = 0
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    env = calls.decode_envelope(calls.encode_envelope(REQUEST, 1, Loose(value=deep)))
    with pytest.raises(ValidationFailed, match="nests deeper"):
        calls.decode_payload(env, Loose)
    shallow = Loose(value=[[1]])
    env = calls.decode_envelope(calls.encode_envelope(REQUEST, 1, shallow))
    assert calls.decode_payload(env, Loose) == shallow


def test_registry_refuses_a_second_class_for_a_tag():
    reg = Registry()
    reg.register(Ping)
    reg.register(Ping)  # the same class again is fine (re-import)

    class Other(Message, tag="test.wire.Other"):
        pass

    Other.__peerkit_tag__ = "test.wire.Ping"
    with pytest.raises(RegistryError, match="already used"):
        reg.register(Other)
