"""Storage errors (all PeerkitErrors, all say what to do)."""

from __future__ import annotations

from ..errors import RemoteError


class StorageError(RemoteError):
    code = "storage"


class InvalidCID(StorageError):
    code = "invalid_cid"


class NotCanonical(StorageError):
    """The data is not strict DAG-CBOR, or holds a value peerkit refuses to hash (NaN, Inf)."""

    code = "not_canonical"


class CorruptBlock(StorageError):
    """A block's bytes do not hash to its CID."""

    code = "corrupt_block"


class BlockNotFound(StorageError):
    code = "block_not_found"


class BlockTooLarge(StorageError):
    code = "block_too_large"


class NotPinned(StorageError):
    code = "not_pinned"


class LimitExceeded(StorageError):
    code = "limit_exceeded"
