"""The one thing pyproject.toml cannot say stably yet: peerkit's C helpers.

- peerkit/_cbor_floats.c applies peerkit's float rule to DAG-CBOR bytes (peerkit/blocks.py
  says why);
- peerkit/_envelope_calls.c does the common case of peerkit.wire's three calls per message
  without a Python frame each (peerkit/wire.py).

Both are optional: built where a C compiler and Python's headers are present; elsewhere the
install still succeeds and peerkit does the same in Python, slower (same results).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("peerkit._cbor_floats", ["peerkit/_cbor_floats.c"], optional=True),
        Extension("peerkit._envelope_calls", ["peerkit/_envelope_calls.c"], optional=True),
    ]
)
