"""Storage errors (all PeerkitErrors, all say what to do)."""

from __future__ import annotations

from ..blocks import BlockError, CorruptBlock, InvalidCID, NotCanonical
from ..errors import RemoteError

__all__ = [
    "BlockError",
    "BlockNotFound",
    "BlockTooLarge",
    "CorruptBlock",
    "InvalidCID",
    "LimitExceeded",
    "NotCanonical",
    "NotPinned",
    "StorageError",
]


class StorageError(RemoteError):
    code = "storage"


class BlockNotFound(StorageError):
    code = "block_not_found"


class BlockTooLarge(StorageError):
    code = "block_too_large"


class NotPinned(StorageError):
    code = "not_pinned"


class LimitExceeded(StorageError):
    code = "limit_exceeded"
