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
