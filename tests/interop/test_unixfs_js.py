"""IPFS files against the JavaScript reference (ipfs-unixfs-importer, -exporter, @ipld/dag-pb,
@ipld/car): the same bytes give the same CIDs as `ipfs add --cid-version=1 --raw-leaves`,
CARs of IPFS files made there import here, and ours read there block by block.

Needs Node.js and the npm registry (installed once into a cache folder; skipped, saying why,
without them)."""

import json
import random
import subprocess
from pathlib import Path

import pytest

from peerkit.blocks import parse_cid
from peerkit.storage.car import read_car_stream, write_car
from peerkit.storage.store import MemoryBlockStore
from peerkit.storage.unixfs import import_file, import_path, list_directory, read_node, read_range
from tests.interop.npm import installed

JS = Path(__file__).parent / "unixfs"
pytestmark = pytest.mark.interop

# sizes around the edges: empty, one leaf, exactly one chunk, one byte over, 174 leaves and
# one over (a second level), several MiB
SIZES = [0, 10, 262_144, 262_145, 300_000, 174 * 262_144, 174 * 262_144 + 1, 5_000_000]


@pytest.fixture(scope="module")
def js() -> Path:
    return installed(JS, "ipfs-unixfs-importer", ["unixfs.mjs"], timeout=240)


def run_js(folder: Path, **job) -> dict:
    proc = subprocess.run(
        ["node", "unixfs.mjs"],
        cwd=folder,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def make_tree(base: Path) -> Path:
    rng = random.Random(3)
    root = base / "site"
    (root / "img" / "icons").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_bytes(b"<h1>hello</h1>")
    (root / "img" / "logo.bin").write_bytes(rng.randbytes(700_000))
    (root / "img" / "icons" / "a.svg").write_bytes(b"<svg/>")
    (root / "\u00e9t\u00e9.txt").write_bytes(b"unicode names sort by UTF-8 bytes")
    (root / "B.txt").write_bytes(b"upper case sorts first")
    return root


def js_files(root: Path) -> list[dict]:
    files = [{"path": root.name, "file": None}]
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root.parent))
        files.append({"path": rel, "file": str(p) if p.is_file() else None})
    return files


@pytest.mark.timeout(300)
def test_cids_of_files_and_directories_equal_the_js_importer(js, tmp_path):
    jobs, ours = [], []
    rng = random.Random(1)
    for size in SIZES:
        path = tmp_path / f"f{size}"
        path.write_bytes(rng.randbytes(size))
        ours.append(import_path(path, lambda b: None).cid.encode())
        jobs.append({"files": [{"path": path.name, "file": str(path)}], "car": str(path) + ".car"})
    # a deep tree: small chunks and three links per node make five levels of 200 leaves
    deep = tmp_path / "deep"
    deep.write_bytes(rng.randbytes(200 * 1024))
    with deep.open("rb") as f:
        ours.append(import_file(f, lambda b: None, chunk=1024, max_links=3).cid.encode())
    jobs.append(
        {
            "files": [{"path": "deep", "file": str(deep)}],
            "car": str(deep) + ".car",
            "chunk": 1024,
            "links": 3,
        }
    )
    site = make_tree(tmp_path)
    ours.append(import_path(site, lambda b: None).cid.encode())
    jobs.append({"files": js_files(site), "car": str(tmp_path / "site.car")})
    theirs = [r["cid"] for r in run_js(js, **{"import": jobs})["imported"]]
    assert ours == theirs


def test_a_car_of_an_ipfs_directory_made_in_js_imports_and_reads(js, tmp_path):
    site = make_tree(tmp_path)
    car = tmp_path / "site.car"
    (imported,) = run_js(js, **{"import": [{"files": js_files(site), "car": str(car)}]})["imported"]
    store = MemoryBlockStore()
    with car.open("rb") as f:
        roots, blocks = read_car_stream(f)
        n = store.put_many(list(blocks))
    assert [r.encode() for r in roots] == [imported["cid"]] and n == imported["blocks"]
    get = lambda c: store.get(c).data  # noqa: E731
    names = [lk.name for lk in list_directory(read_node(roots[0], get(roots[0])))]
    assert names == ["B.txt", "empty", "img", "index.html", "\u00e9t\u00e9.txt"]
    logo = next(
        parse_cid(lk.cid)
        for lk in list_directory(read_node(roots[0], get(roots[0])))
        if lk.name == "img"
    )
    logo = next(
        parse_cid(lk.cid)
        for lk in list_directory(read_node(logo, get(logo)))
        if lk.name == "logo.bin"
    )
    assert b"".join(read_range(get, logo)) == (site / "img" / "logo.bin").read_bytes()


def test_our_cars_read_in_js_block_by_block(js, tmp_path):
    data = random.Random(9).randbytes(3_000_000)
    src = tmp_path / "file.bin"
    src.write_bytes(data)
    site = make_tree(tmp_path)
    jobs = []
    for path in (src, site):
        store = MemoryBlockStore()
        root = import_path(path, store.put)
        car = tmp_path / f"{path.name}.car"
        with car.open("wb") as out:
            write_car(out, [root.cid], store.walk(root.cid))
        jobs.append({"car": str(car), "out": str(tmp_path / f"{path.name}.out")})
    file_report, dir_report = run_js(js, export=jobs)["exported"]
    assert file_report.get("error") is None and file_report["bad"] == 0
    assert file_report["type"] == "file"
    assert (tmp_path / "file.bin.out").read_bytes() == data
    assert dir_report.get("error") is None, dir_report
    assert dir_report["bad"] == 0 and dir_report["type"] == "directory"
    assert [e["name"] for e in dir_report["listing"]] == [
        "B.txt",
        "empty",
        "img",
        "index.html",
        "\u00e9t\u00e9.txt",
    ]
