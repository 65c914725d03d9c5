"""The content gateway with a real HTTP client against real peers over libp2p: files with
types and ranges, directories, trustless raw/CAR responses checked block by block, /ipns/
through a name published by another peer, fetch limits, and what a stranger may see."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from peerkit import Node
from peerkit.config import parse_config
from peerkit.naming.records import name_for
from peerkit.storage.car import read_car_stream
from tests.integration.test_storage import store_of

pytestmark = pytest.mark.libp2p

LOGO = random.Random(5).randbytes(700_000)


async def start(tmp_path: Path, name: str, gateway: str = "") -> Node:
    source = tmp_path / name / "peer.yaml"
    source.parent.mkdir(parents=True, exist_ok=True)
    text = f"name: {name}\ntransport: libp2p\nstorage: {{backend: memory}}\n"
    if gateway:
        text += f"gateway: {{enabled: true, {gateway}}}\n"
    node = Node(parse_config(text, source=str(source)))
    await node.start()
    return node


@pytest.fixture
async def peers(tmp_path):
    """``gw`` serves HTTP and holds nothing; ``origin`` holds a site and a name points at it."""
    origin = await start(tmp_path, "origin")
    gw = await start(tmp_path, "gw", "host: 127.0.0.1")
    await gw.connect(origin.addrs()[0])
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "docs").mkdir()
    (site / "index.html").write_bytes(b"<!doctype html><h1>hello</h1>")
    (site / "img" / "logo.png").write_bytes(LOGO)
    (site / "docs" / "notes.txt").write_bytes(b"plain notes\n")
    root = await origin.storage.put_file(site, pin="site")
    yield gw, origin, root
    await gw.stop()
    await origin.stop()


async def test_files_directories_and_ranges(peers):
    gw, _origin, root = peers
    base = f"{gw.gateway_url}/ipfs/{root.encode()}"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, allow_redirects=False) as resp:
            assert resp.status == 301 and resp.headers["Location"].endswith("/")
        async with http.get(base + "/") as resp:  # fetched from origin, then served
            assert resp.status == 200 and resp.content_type == "text/html"
            assert await resp.read() == b"<!doctype html><h1>hello</h1>"
        async with http.get(base + "/img/logo.png") as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
            assert resp.headers["Cache-Control"].endswith("immutable")
            assert resp.headers["Accept-Ranges"] == "bytes"
            etag = resp.headers["Etag"]
            assert await resp.read() == LOGO
        async with http.get(base + "/img/logo.png", headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
        async with http.get(base + "/img/logo.png", headers={"Range": "bytes=300000-300099"}) as r:
            assert r.status == 206
            assert r.headers["Content-Range"] == f"bytes 300000-300099/{len(LOGO)}"
            assert await r.read() == LOGO[300_000:300_100]
        async with http.get(base + "/img/logo.png", headers={"Range": "bytes=-10"}) as resp:
            assert resp.status == 206 and await resp.read() == LOGO[-10:]
        async with http.get(base + "/img/logo.png", headers={"Range": "bytes=9999999-"}) as r:
            assert r.status == 416
        async with http.head(base + "/img/logo.png") as resp:
            assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(LOGO)
        async with http.get(base + "/docs/") as resp:  # no index.html: a listing
            page = await resp.text()
            assert resp.status == 200 and "notes.txt" in page and "Index of" in page
        async with http.get(base + "/docs/notes.txt") as resp:
            assert resp.content_type == "text/plain" and resp.charset == "utf-8"
        async with http.get(base + "/nope") as resp:
            assert resp.status == 404 and "no nope" in (await resp.json())["message"]
        async with http.get(f"{gw.gateway_url}/ipfs/not-a-cid") as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "invalid_cid"


async def test_trustless_raw_and_car_are_verified_block_by_block(peers):
    gw, origin, root = peers
    url = f"{gw.gateway_url}/ipfs/{root.encode()}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"format": "raw"}) as resp:
            assert resp.content_type == "application/vnd.ipld.raw"
            block = await resp.read()
            assert hashlib.sha256(block).digest() == root.cid_bytes[4:]
        accept = {"Accept": "application/vnd.ipld.car"}
        async with http.get(url, headers=accept) as resp:
            assert resp.headers["Content-Type"].startswith("application/vnd.ipld.car; version=1")
            car = await resp.read()
    roots, blocks = read_car_stream(io.BytesIO(car))  # every block checked against its CID
    got = [b.cid for b in blocks]
    assert roots == [root]
    assert got[0] == root and len(got) == len(set(got))
    assert set(got) == {b.cid for b in store_of(origin).walk(root)}


async def test_ipns_serves_a_name_published_by_another_peer(peers):
    gw, origin, root = peers
    key = Ed25519PrivateKey.generate()
    await origin.naming.publish(key, root.encode(), push_to=[gw.peer_id])
    url = f"{gw.gateway_url}/ipns/{name_for(key)}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/") as resp:
            assert resp.status == 200 and await resp.read() == b"<!doctype html><h1>hello</h1>"
            assert resp.headers["X-Ipfs-Path"] == f"/ipns/{name_for(key)}"
            assert "immutable" not in resp.headers["Cache-Control"]
        async with http.get(url + "/docs/notes.txt") as resp:
            assert await resp.read() == b"plain notes\n"
        other = name_for(Ed25519PrivateKey.generate())
        async with http.get(f"{gw.gateway_url}/ipns/{other}") as resp:
            assert resp.status == 404


async def test_dag_cbor_is_json(peers):
    gw, origin, _root = peers
    cid = await origin.storage.put({"title": "hi", "n": 2, "blob": b"\x01\x02", "link": _root})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.gateway_url}/ipfs/{cid.encode()}") as resp:
            assert resp.content_type == "application/json"
            assert await resp.json() == {
                "blob": {"/": {"bytes": "AQI"}},
                "link": {"/": _root.encode()},
                "n": 2,
                "title": "hi",
            }


async def test_a_dag_over_the_fetch_limit_fails_cleanly(tmp_path):
    origin = await start(tmp_path, "origin")
    gw = await start(tmp_path, "gw", "max_fetch_bytes: 100000")
    try:
        await gw.connect(origin.addrs()[0])
        big = await origin.storage.put_file(io.BytesIO(LOGO), pin="big")
        small = await origin.storage.put_file(io.BytesIO(b"small"), pin="small")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gw.gateway_url}/ipfs/{big.encode()}") as resp:
                assert resp.status == 413
                refusal = await resp.json()
                assert "max_fetch_bytes" in refusal["message"] and "pin it" in refusal["hint"]
            async with http.get(f"{gw.gateway_url}/ipfs/{small.encode()}") as resp:
                assert resp.status == 200 and await resp.read() == b"small"
    finally:
        await gw.stop()
        await origin.stop()


async def test_a_stranger_gets_only_public_content_and_no_fetching(tmp_path):
    origin = await start(tmp_path, "origin")
    gw = await start(tmp_path, "gw", "host: 0.0.0.0")
    try:
        await gw.connect(origin.addrs()[0])
        public = await gw.storage.put_file(io.BytesIO(b"for everyone"), pin="public/notice")
        private = await gw.storage.put_file(io.BytesIO(b"mine"), pin="drafts/one")
        elsewhere = await origin.storage.put_file(io.BytesIO(b"held elsewhere"), pin="x")
        url = gw.gateway_url.replace("0.0.0.0", "127.0.0.1")
        token = (tmp_path / "gw" / "gateway.token").read_text().strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/ipfs/{public.encode()}") as resp:
                assert resp.status == 200 and await resp.read() == b"for everyone"
            async with http.get(f"{url}/ipfs/{private.encode()}") as resp:
                assert resp.status == 403 and "public/" in (await resp.json())["hint"]
            async with http.get(f"{url}/ipfs/{elsewhere.encode()}") as resp:
                assert resp.status == 403
            assert not gw.storage.has(elsewhere)  # a stranger made us fetch nothing
            async with http.get(f"{url}/") as resp:
                page = await resp.text()
                assert "public/notice" in page and "drafts/one" not in page
            owner = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{url}/ipfs/{private.encode()}", headers=owner) as resp:
                assert resp.status == 200 and await resp.read() == b"mine"
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 401
    finally:
        await gw.stop()
        await origin.stop()


async def test_malformed_files_get_a_clear_error_and_the_peer_runs_on(peers):
    from peerkit.blocks import DAG_PB, Block, cid_for, make_block
    from peerkit.dagpb import PBNode, encode_node
    from peerkit.storage.unixfs import FILE, UnixFSData

    gw, _origin, _root = peers
    no_unixfs = encode_node(PBNode([], None))
    lying = encode_node(PBNode([], UnixFSData(FILE, filesize=9, blocksizes=[9]).encode()))
    legacy = make_block({"type": "peerkit/file", "size": "big", "chunks": "nope"})
    blocks = [Block(cid_for(data, DAG_PB), data) for data in (no_unixfs, lying)] + [legacy]
    await gw.storage.put_blocks(blocks)
    async with aiohttp.ClientSession() as http:
        for block in blocks:
            async with http.get(f"{gw.gateway_url}/ipfs/{block.cid.encode()}") as resp:
                assert resp.status == 400, await resp.text()
                assert (await resp.json())["message"]
        async with http.get(f"{gw.gateway_url}/health/live") as resp:
            assert resp.status == 200
