"""Envelope codec (envelope + typed payload, both ways) vs bare msgspec msgpack of the payload.

Goal >= 0.6x the bare typed round trip.
"""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, load, paired, report

from peerkit import Message
from peerkit.wire import (
    REQUEST,
    FrameDecoder,
    decode_envelope,
    decode_envelope_in_python,
    decode_payload,
    decode_payload_in_python,
    encode_envelope,
    encode_envelope_in_python,
    encode_frame,
)

N = 100_000


class Order(Message, tag="bench.Order"):
    id: int
    customer: str
    items: list[str]
    total: float
    note: str = ""


MSG = Order(id=42, customer="alice", items=["apple", "pear", "plum"], total=12.5, note="fast")


def bare() -> float:
    enc = msgspec.msgpack.Encoder()
    dec = msgspec.msgpack.Decoder(Order)
    with Timer() as t:
        for _ in range(N):
            dec.decode(enc.encode(MSG))
    return N / t.elapsed


def ours() -> float:
    with Timer() as t:
        for i in range(N):
            env = decode_envelope(encode_envelope(REQUEST, i, MSG))
            decode_payload(env, Order)
    return N / t.elapsed


def ours_in_python() -> float:
    """The same calls without peerkit's C helper (installs without a C compiler)."""
    encode, decode, payload = (
        encode_envelope_in_python,
        decode_envelope_in_python,
        decode_payload_in_python,
    )
    with Timer() as t:
        for i in range(N):
            env = decode(encode(REQUEST, i, MSG))
            payload(env, Order)
    return N / t.elapsed


def ours_framed() -> float:
    dec = FrameDecoder()
    with Timer() as t:
        for i in range(N):
            (body,) = dec.feed(encode_frame(encode_envelope(REQUEST, i, MSG)))
            decode_payload(decode_envelope(body), Order)
    return N / t.elapsed


def main() -> None:
    print(f"# bench_codec ({load()})")
    mine, base = paired(7, ours, bare)
    report("envelope round trip vs bare msgspec", mine, base, "msg/s", ">= 0.6x")
    mine, base = paired(7, ours_in_python, bare)
    report("... without the C helper", mine, base, "msg/s", "info")
    mine, base = paired(5, ours_framed, bare)
    report("framed envelope round trip vs bare", mine, base, "msg/s", "info")


if __name__ == "__main__":
    main()
