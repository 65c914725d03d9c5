# peerkit/_envelope_calls.c: peerkit.wire's envelope calls without a Python frame each
from collections.abc import Callable
from typing import Any

def bind(
    *,
    c_stack_safe_limit: int,
    encode: Callable[[Any], bytes],
    wire_globals: dict[str, Any],
    decode_error: type[BaseException],
    closed_types: set[type],
    encode_in_python: Callable[..., bytes],
    decode_precisely: Callable[[bytes], Any],
    too_deep_error: Callable[[], BaseException],
    payload_in_python: Callable[[Any, type], Any],
) -> None: ...
def encode_envelope(kind: int, id: int, msg: Any, auth: bytes = b"") -> bytes: ...
def decode_envelope(body: bytes) -> Any: ...
def decode_payload(env: Any, msg_type: type) -> Any: ...
