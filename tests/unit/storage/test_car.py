import io
import random
import subprocess
import sys

import pytest

from peerkit.blocks import make_block, raw_block
from peerkit.storage.car import CarError, read_car, write_car
from peerkit.storage.errors import CorruptBlock
from peerkit.storage.files import legacy_file_blocks, read_file_range, size_of
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


def test_old_peerkit_file_dags_still_read(tmp_path):
    # what `peerkit put` wrote before files were UnixFS
    data = bytes(range(256)) * 5000
    root, leaves = legacy_file_blocks(io.BytesIO(data))
    blocks = {b.cid.cid_bytes: b.data for b in [root, *leaves]}
    get = blocks.__getitem__
    assert b"".join(read_file_range(lambda c: get(c.cid_bytes), root.cid)) == data
    assert size_of(lambda c: get(c.cid_bytes), root.cid) == len(data)
    part = b"".join(read_file_range(lambda c: get(c.cid_bytes), root.cid, 262_000, 530_000))
    assert part == data[262_000:530_000]


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


def test_cli_puts_and_gets_directories_as_ipfs_does(tmp_path):
    (tmp_path / "peer.yaml").write_text("name: cli\n")
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "index.html").write_bytes(b"<h1>hi</h1>")
    (site / "img" / "logo.bin").write_bytes(random.Random(2).randbytes(600_000))
    (site / ".git").mkdir()  # dot files stay out, as with ipfs add -r

    def run(*args, ok=True):
        proc = subprocess.run(
            [sys.executable, "-m", "peerkit", *args], cwd=tmp_path, capture_output=True, timeout=60
        )
        assert (proc.returncode == 0) == ok, proc.stderr.decode()
        assert b"Traceback" not in proc.stderr
        return proc

    cid = run("put", "site", "--pin", "site").stdout.decode().strip()
    assert cid.startswith("bafybei")
    assert run("get", f"{cid}/index.html").stdout == b"<h1>hi</h1>"
    refused = run("get", cid, ok=False)
    assert b"is a directory" in refused.stderr and b"--output" in refused.stderr
    run("get", cid, "-o", "copy")
    logo = (tmp_path / "copy" / "img" / "logo.bin").read_bytes()
    assert logo == (site / "img" / "logo.bin").read_bytes()
    assert not (tmp_path / "copy" / ".git").exists()
    assert b"no such file" in run("put", "nothing-here", ok=False).stderr
    assert b"no img/nope" in run("get", f"{cid}/img/nope", ok=False).stderr
