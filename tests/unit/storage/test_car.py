import io
import random
import subprocess
import sys

import pytest

from peerkit.blocks import make_block, raw_block
from peerkit.storage.car import CarError, read_car, write_car
from peerkit.storage.errors import CorruptBlock
from peerkit.storage.files import file_blocks
from peerkit.wire import encode_uvarint


def _dag():
    leaves = [raw_block(b"a" * 10), raw_block(b"b" * 20)]
    root = make_block({"kids": [b.cid for b in leaves]})
    return root, [root, *leaves]


def test_car_round_trip():
    root, blocks = _dag()
    buf = io.BytesIO()
    assert write_car(buf, [root.cid], blocks) == 3
    roots, got = read_car(buf.getvalue())
    assert roots == [root.cid]
    assert list(got) == blocks


def test_car_known_layout():
    root, blocks = _dag()
    buf = io.BytesIO()
    write_car(buf, [root.cid], blocks[:1])
    data = buf.getvalue()
    # header: varint length, then dag-cbor {"roots": [...], "version": 1}
    assert data[1:2] == b"\xa2" and b"roots" in data[:60] and b"version" in data[:80]
    # section: varint(36 + len(data)) + CID bytes + block data
    tail = encode_uvarint(36 + len(root.data)) + root.cid.cid_bytes + root.data
    assert data.endswith(tail)


def test_car_corrupt_block_is_refused():
    root, blocks = _dag()
    buf = io.BytesIO()
    write_car(buf, [root.cid], blocks)
    data = bytearray(buf.getvalue())
    data[-1] ^= 0xFF
    _roots, got = read_car(bytes(data))
    with pytest.raises(CorruptBlock):
        list(got)


@pytest.mark.parametrize("bad", [b"", b"\x05abc", b"\x01\xa0"])
def test_car_garbage_is_refused(bad):
    with pytest.raises(CarError):
        _roots, blocks = read_car(bad)
        list(blocks)


def test_file_dag_is_deterministic():
    data = bytes(range(256)) * 5000
    a, _ = file_blocks(io.BytesIO(data))
    b, leaves = file_blocks(io.BytesIO(data))
    assert a.cid == b.cid and len(leaves) == 5


def test_cli_put_get_pin_export_import_gc(tmp_path):
    (tmp_path / "peer.yaml").write_text("name: cli\n")
    src = tmp_path / "f.bin"
    src.write_bytes(random.Random(1).randbytes(1_000_000))  # 4 distinct chunks

    def run(*args, ok=True):
        proc = subprocess.run(
            [sys.executable, "-m", "peerkit", *args], cwd=tmp_path, capture_output=True, timeout=60
        )
        if ok:
            assert proc.returncode == 0, proc.stderr.decode()
        return proc

    cid = run("put", "f.bin", "--pin", "f").stdout.decode().strip()
    assert cid.startswith("bafy")
    run("get", cid, "-o", "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert f"f\t{cid}" in run("pin", "ls").stdout.decode()
    run("dag", "export", cid, "-o", "f.car")
    run("pin", "rm", "f")
    assert "removed 5 blocks" in run("gc", "--grace", "0").stdout.decode()
    missing = run("get", cid, ok=False)
    assert missing.returncode == 1 and b"not in this store" in missing.stderr
    assert b"Traceback" not in missing.stderr
    run("dag", "import", "f.car", "--pin", "back")
    assert run("get", cid).stdout == src.read_bytes()
