"""Content-addressed storage: blocks and CIDs, a block store, pins, DAG exchange, CAR files."""

from ..blocks import CID, Block, decode, encode, links, make_block, raw_block, verify
from .errors import BlockNotFound, CorruptBlock, InvalidCID, NotCanonical, StorageError

__all__ = [
    "CID",
    "Block",
    "BlockNotFound",
    "CorruptBlock",
    "InvalidCID",
    "NotCanonical",
    "StorageError",
    "decode",
    "encode",
    "links",
    "make_block",
    "raw_block",
    "verify",
]
