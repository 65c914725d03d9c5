import pytest

from peerkit.blocks import make_block, raw_block
from peerkit.storage.store import MemoryBlockStore, SQLiteBlockStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    """Each block store in turn."""
    s = MemoryBlockStore() if request.param == "memory" else SQLiteBlockStore(tmp_path / "b.db")
    yield s
    s.close()


def dag(tag: str, width: int = 3):
    """A small DAG: (root, its blocks: root, a middle node, a block every such DAG shares, and
    ``width`` leaves)."""
    leaves = [raw_block(f"{tag}-{i}".encode()) for i in range(width)]
    mid = make_block({"leaves": [b.cid for b in leaves], "tag": tag})
    root = make_block({"mid": mid.cid, "shared": make_block({"s": 1}).cid})
    return root, [root, mid, make_block({"s": 1}), *leaves]
