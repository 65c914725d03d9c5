"""The errors of blocks and CIDs (the codecs' errors, shared by every family)."""

from __future__ import annotations

from .errors import RemoteError


class BlockError(RemoteError):
    """A block or CID that cannot be used as it is (the codec's errors, shared by every family)."""

    code = "block"


class InvalidCID(BlockError):
    code = "invalid_cid"


class NotCanonical(BlockError):
    """The data is not strict DAG-CBOR, or holds a value peerkit refuses to hash (NaN, Inf)."""

    code = "not_canonical"


class CorruptBlock(BlockError):
    """A block's bytes do not hash to its CID."""

    code = "corrupt_block"
