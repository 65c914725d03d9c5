"""The one thing pyproject.toml cannot say stably yet: peerkit's C helper.

peerkit/_cbor_floats.c applies peerkit's float rule to DAG-CBOR bytes (peerkit/blocks.py says
why). It is optional: built where a C compiler and Python's headers are present; elsewhere the
install still succeeds and peerkit does the same in Python, slower (same bytes).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("peerkit._cbor_floats", ["peerkit/_cbor_floats.c"], optional=True),
    ]
)
