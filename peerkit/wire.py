"""The wire format: varint length-prefixed frames carrying msgpack envelopes.

A frame is ``uvarint(len(body)) || body``; the body is a msgpack array
``[kind, id, tag, payload]`` (see ``docs/wire.md``). This module is pure: no I/O, no event loop.
The frame size limit is checked from the length prefix, before any of the body is buffered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar, Union

import msgspec

from .bounds import (
    C_STACK_SAFE_LIMIT,
    MAX_DEPTH,
    decode_within_c_stack,
    is_open,
    too_deep,
)
from .errors import FrameTooLarge, FrameTruncated, MalformedMessage, ValidationFailed
from .messages import Message, default_registry, tag_of

DEFAULT_MAX_FRAME: Final = 4 * 1024 * 1024
_MAX_VARINT_BYTES: Final = 9  # enough for 2**63; longer prefixes are malformed

# Envelope kinds
REQUEST: Final = 0  # expects a reply with the same id
REPLY: Final = 1  # answers request ``id``
ERROR: Final = 2  # answers request ``id`` with an error: tag = error code, payload = message
EVENT: Final = 3  # one-way message to the receiving peer's actor (id = 0)
PUBLISH: Final = 4  # a pubsub event (used inside gossipsub messages)
M = TypeVar("M", bound=Message)


Kind = Annotated[int, msgspec.Meta(ge=REQUEST, le=PUBLISH)]
RequestId = Annotated[int, msgspec.Meta(ge=0)]
Auth = Annotated[bytes, msgspec.Meta(max_length=64 * 1024)]


# gc=False (both envelope structs): an envelope holds what was just decoded from bytes, which
# cannot refer back to it, so it can be in no cycle and the collector need not track it (~1.5%
# of an envelope round trip; every tracked allocation also brings the next collection closer).
class Envelope(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What every frame carries.

    ``payload`` is the decoded message when the fast path could decode it (its tag is registered
    and it validates), the error text for ERROR envelopes, and otherwise the raw msgpack, which
    :func:`decode_payload` decodes again to produce a precise error.
    """

    kind: Kind
    id: RequestId
    tag: str
    payload: Any = msgspec.Raw(b"")
    #: a request's authorization (peerkit.auth container), absent for most envelopes
    auth: Auth = b""


class _RawEnvelope(msgspec.Struct, array_like=True, frozen=True):
    kind: Kind
    id: RequestId
    tag: str
    payload: msgspec.Raw = msgspec.Raw(b"")
    auth: Auth = b""


# --- varints --------------------------------------------------------------------------------


def encode_uvarint(n: int) -> bytes:
    if n < 0:
        raise ValueError("uvarint must be non-negative")
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_uvarint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """Return ``(value, next_pos)``, or None if ``buf`` ends inside the varint.

    Raises MalformedMessage for a prefix longer than 9 bytes or not minimally encoded.
    """
    value = 0
    shift = 0
    end = len(buf)
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= end:
            return None
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0 and i > 0:
                raise MalformedMessage("frame length prefix is not minimally encoded")
            return value, pos + i + 1
        shift += 7
    raise MalformedMessage("frame length prefix is longer than 9 bytes")


# --- frames ---------------------------------------------------------------------------------


def encode_frame(body: bytes) -> bytes:
    return encode_uvarint(len(body)) + body


class FrameDecoder:
    """Incremental frame splitter for one stream.

    Feed it whatever the stream returns; it yields complete frame bodies. It never buffers more
    than ``max_frame`` plus one prefix, and it rejects an oversized frame from its prefix alone.
    After an error the stream must be reset: the decoder is not reusable.
    """

    __slots__ = ("_buf", "_need", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need: int | None = None  # body length of the frame being read, once known

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        pos = 0
        if not self._buf and self._need is None:
            # Fast path: nothing carried over, so read whole frames straight out of ``data``.
            end = len(data)
            while pos < end:
                first = data[pos]
                if first < 0x80:
                    length, start = first, pos + 1
                else:
                    parsed = decode_uvarint(data, pos)
                    if parsed is None:
                        break
                    length, start = parsed
                if length > self.max_frame:
                    raise FrameTooLarge(
                        f"frame of {length} bytes exceeds the limit of {self.max_frame} bytes"
                    )
                if end - start < length:
                    break
                frames.append(data[start : start + length])
                pos = start + length
            if pos == end:
                return frames
            data = data[pos:]
            pos = 0
        buf = self._buf
        buf += data
        while True:
            if self._need is None:
                parsed = decode_uvarint(buf, pos)
                if parsed is None:
                    break
                length, pos = parsed
                if length > self.max_frame:
                    raise FrameTooLarge(
                        f"frame of {length} bytes exceeds the limit of {self.max_frame} bytes"
                    )
                self._need = length
            if len(buf) - pos < self._need:
                break
            frames.append(bytes(buf[pos : pos + self._need]))
            pos += self._need
            self._need = None
        if pos:
            del buf[:pos]
        return frames

    @property
    def in_frame(self) -> bool:
        """True while part of a frame has arrived and the rest has not."""
        return bool(self._buf) or self._need is not None

    @property
    def frame_length(self) -> int:
        """The length of the frame being read, once its prefix has arrived (else 0)."""
        return self._need or 0

    def close(self) -> None:
        """Call at end of stream: raises FrameTruncated if a frame was cut off."""
        if self._buf or self._need is not None:
            raise FrameTruncated(
                f"stream ended inside a frame ({len(self._buf)} bytes of it received)"
            )


# --- envelopes ------------------------------------------------------------------------------

_encoder = msgspec.msgpack.Encoder()
_encode = _encoder.encode
_raw_decoder = msgspec.msgpack.Decoder(_RawEnvelope)
_str_decoder = msgspec.msgpack.Decoder(str)
_payload_decoders: dict[type, msgspec.msgpack.Decoder[Any]] = {}


# Every registered message type is a tagged struct ("type" field), so their union is a tagged
# union msgspec decodes in one pass, payload included: ~1.4x the two-pass decode (raw envelope,
# then payload). Built on first use and dropped whenever the registry changes.
_fast_decoder: msgspec.msgpack.Decoder[Any] | None = None


def _build_fast_decoder() -> msgspec.msgpack.Decoder[Any]:
    global _fast_decoder, _fast_decode
    payload = Union[(str, *default_registry.types())]  # type: ignore[valid-type]
    typed = msgspec.defstruct(
        "_TypedEnvelope",
        [
            ("kind", Kind),
            ("id", RequestId),
            ("tag", str),
            ("payload", payload),
            ("auth", Auth, b""),
        ],
        array_like=True,
        frozen=True,
        gc=False,
    )
    _fast_decoder = msgspec.msgpack.Decoder(typed)
    _fast_decode = _fast_decoder.decode
    return _fast_decoder


def _decode_once_built(body: bytes) -> Any:
    return _build_fast_decoder().decode(body)


#: the envelope decoder's bound ``decode`` (one global read per envelope, not a read, a test
#: and a method lookup: 3% of an envelope round trip), or what builds it on first use
_fast_decode: Callable[[bytes], Any] = _decode_once_built


def prepare_decoder() -> None:
    """Build the envelope decoder now, if the registry changed since it was last built."""
    if _fast_decoder is None:
        _build_fast_decoder()


def _drop_fast_decoder() -> None:
    global _fast_decoder, _fast_decode
    _fast_decoder = None
    _fast_decode = _decode_once_built


default_registry.listeners.append(_drop_fast_decoder)


def encode_envelope(kind: int, id: int, msg: Message, auth: bytes = b"") -> bytes:
    """Encode one envelope body (without the frame prefix), in a single encoder pass."""
    # every message class has its own __peerkit_wire_tag__ (None when it has no tag: such a
    # type never goes on the wire); one attribute read, 5% of an envelope round trip against
    # a dict keyed by the class
    tag = msg.__peerkit_wire_tag__
    if tag is None:
        tag = tag_of(type(msg))  # raises RegistryError, naming the class
    if auth:
        return _encode((kind, id, tag, msg, auth))
    return _encode((kind, id, tag, msg))


def encode_error(id: int, code: str, message: str) -> bytes:
    return _encoder.encode((ERROR, id, code, message))


def decode_envelope(body: bytes) -> Envelope:
    """Decode one envelope body. Raises MalformedMessage when it is not an envelope at all.

    A payload that is unknown or invalid is *not* an error here: it stays raw, and the router
    answers it with a precise error from :func:`decode_payload`.
    """
    return decode_within_c_stack(_decode_envelope, body)


def _decode_envelope(body: bytes) -> Envelope:
    try:
        # The typed struct has Envelope's fields; re-wrapping it would cost ~15% of a decode.
        return _fast_decode(body)
    except msgspec.DecodeError:
        pass
    except RecursionError:
        raise _too_deep() from None
    return _decode_precisely(body)


def _decode_precisely(body: bytes) -> Envelope:
    """The envelope with its payload left raw: for bodies the one-pass decoder refused."""
    try:
        raw = _raw_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"undecodable envelope: {exc}") from exc
    except RecursionError:
        raise _too_deep() from None
    return Envelope(raw.kind, raw.id, raw.tag, raw.payload, raw.auth)


def _too_deep() -> MalformedMessage:
    # msgspec recurses in C up to the interpreter's recursion limit; a frame of ~1,000 nested
    # one-element arrays (1 KB) reaches it. Such input is malformed, never an internal error.
    return MalformedMessage(f"envelope nests deeper than {MAX_DEPTH} levels")


def decode_payload(env: Envelope, msg_type: type[M]) -> M:
    """The envelope's payload as ``msg_type``, validated.

    Raises ValidationFailed naming the field when the payload does not fit the type.
    """
    payload = env.payload
    if type(payload) is msg_type and msg_type in _closed_types:
        return payload  # the common case: decoded in one pass, nesting fixed by the type
    if type(payload) is not msg_type:
        if not isinstance(payload, msgspec.Raw):
            raise ValidationFailed(
                f"{env.tag}: payload is a {type(payload).__name__}, not a {msg_type.__name__}"
            )
        payload = _decode_raw(env.tag, payload, msg_type)
    check_nesting(env.tag, payload)
    return payload


def check_nesting(tag: str, msg: Message) -> None:
    """A type with Any fields holds whatever nesting the sender chose (up to the recursion
    limit): bound it, before any handler or log walks it (every surface calls this: the wire
    here, the HTTP API in gateway/api.py)."""
    msg_type = type(msg)
    if msg_type in _closed_types:
        return
    if not is_open(msg_type):
        _closed_types.add(msg_type)
    elif too_deep(msgspec.structs.astuple(msg), MAX_DEPTH):
        raise ValidationFailed(f"{tag}: payload nests deeper than {MAX_DEPTH} levels")


#: message types whose nesting depth is fixed by their definition (no Any, no recursion)
_closed_types: set[type] = set()


def _decode_raw(tag: str, raw: msgspec.Raw, msg_type: type[M]) -> M:
    decoder = _payload_decoders.get(msg_type)
    if decoder is None:
        decoder = _payload_decoders[msg_type] = msgspec.msgpack.Decoder(msg_type)
    try:
        return decode_within_c_stack(decoder.decode, raw)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{tag}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"{tag}: undecodable payload: {exc}") from exc
    except RecursionError:
        raise ValidationFailed(f"{tag}: payload nests deeper than {MAX_DEPTH} levels") from None


def decode_error_message(env: Envelope) -> str:
    if isinstance(env.payload, str):
        return env.payload
    try:
        return _str_decoder.decode(env.payload)
    except (msgspec.MsgspecError, TypeError, RecursionError):
        return "(undecodable error message)"


# peerkit's C helper for these calls (peerkit/_envelope_calls.c), built at install where a C
# compiler is present: the same three calls without a Python frame each (~0.2 us of an
# envelope round trip of ~0.85 us). It does the common case and hands the rest to the Python
# functions above, so they stay the one statement of the rules; tests/unit/test_wire.py runs
# both. Bound by name, as blocks.py binds its helper (the import linter reads .py files only).
def _bind_envelope_calls() -> None:
    global encode_envelope, decode_envelope, decode_payload
    try:
        calls = importlib.import_module("peerkit._envelope_calls")
    except ImportError:  # pragma: no cover - installs without a C compiler
        return
    calls.bind(
        c_stack_safe_limit=C_STACK_SAFE_LIMIT,
        encode=_encode,
        wire_globals=globals(),
        decode_error=msgspec.DecodeError,
        closed_types=_closed_types,
        encode_in_python=encode_envelope,
        decode_precisely=_decode_precisely,
        too_deep_error=_too_deep,
        payload_in_python=decode_payload,
    )
    encode_envelope = calls.encode_envelope
    decode_envelope = calls.decode_envelope
    decode_payload = calls.decode_payload


#: the Python functions, whichever the module's names are bound to (tests compare the two)
encode_envelope_in_python = encode_envelope
decode_envelope_in_python = decode_envelope
decode_payload_in_python = decode_payload
_bind_envelope_calls()
