"""The content gateway: what a peer holds, for browsers, curl and IPFS tools.

    GET|HEAD /ipfs/{cid}[/{path}]   a file (content type, ranges), a directory (its index.html,
                                    or a listing), DAG-CBOR as JSON
             ?format=raw | car      trustless: one block, or the DAG as a CAR v1 (also by
                                    Accept: application/vnd.ipld.raw | application/vnd.ipld.car)
    GET|HEAD /ipns/{name}[/{path}]  the same, for the name's current value (naming actor)
    GET      /                      this peer and the content it serves

Immutable responses carry ``Cache-Control: ... immutable`` and the CID as ETag (a matching
If-None-Match gets 304). Blocks missing here are fetched from other peers, up to
``gateway.max_fetch_bytes`` in ``gateway.fetch_seconds``.

Who sees what: on loopback (the default) the gateway is the local user's, and serves anything.
Exposed on another host, a request without the gateway token is a stranger's: it is served
only content held here under a pin named with one of ``gateway.public_pins`` (default
``public/``), and never makes this peer fetch anything.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import unquote

from aiohttp import web

from ..blocks import CID, DAG_CBOR, RAW, Block, cid_codec, decode, encode, links, parse_cid
from ..errors import Refused
from ..storage.errors import BlockNotFound, LimitExceeded
from ..storage.files import is_legacy_file, read_file_range, size_of
from ..storage.unixfs import (
    NoSuchPath,
    kind,
    list_directory,
    read_node,
    resolve_path,
)
from ..wire import encode_uvarint
from .app import is_trusted
from .formats import (
    CAR_CONTENT_TYPE,
    DAG_CBOR_TYPE,
    IMMUTABLE,
    RAW_TYPE,
    BadRequest,
    Listed,
    content_type,
    dag_json,
    listing_page,
    parse_range,
    wanted_format,
)

if TYPE_CHECKING:
    from ..node import Node

#: bytes read from a file to guess its type when its name says nothing
SNIFF_BYTES = 512


class NotPublic(Refused):
    """Content this gateway does not serve to requests without its token."""

    code = "not_public"


class ContentGateway:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.config = node.config.gateway
        self._public: tuple[tuple[tuple[str, bytes], ...], frozenset[bytes]] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ipfs/{cid}", self.ipfs)
        app.router.add_get("/ipfs/{cid}/{path:.*}", self.ipfs)
        app.router.add_get("/ipns/{name}", self.ipns)
        app.router.add_get("/ipns/{name}/{path:.*}", self.ipns)
        app.router.add_get("/", self.index)

    # --- handlers -----------------------------------------------------------------------

    async def ipfs(self, request: web.Request) -> web.StreamResponse:
        root = parse_cid(request.match_info["cid"])
        path = _segments(request.match_info.get("path", ""))
        return await self._serve(request, root, path, f"/ipfs/{root.encode()}", IMMUTABLE)

    async def ipns(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        record = await self.node.naming.resolve(name)
        if record is None:
            raise BlockNotFound(f"no record of the name {name} was found")
        value = record.value.decode("utf-8", "replace")
        if not value.startswith("/ipfs/"):
            raise BlockNotFound(f"{name} points at {value!r}, not at content (/ipfs/...)")
        target, *inner = [s for s in value.removeprefix("/ipfs/").split("/") if s]
        path = [*inner, *_segments(request.match_info.get("path", ""))]
        max_age = max(int(record.ttl_ns // 1_000_000_000), 0) or 60
        return await self._serve(
            request, parse_cid(target), path, f"/ipns/{name}", f"public, max-age={max_age}"
        )

    async def index(self, request: web.Request) -> web.Response:
        node = self.node
        trusted = is_trusted(request)
        rows = []
        if node.has("storage"):
            for pin in await node.storage.pins():
                if trusted or self._is_public_pin(pin.name):
                    cid = pin.root.encode()
                    rows.append(f'<li><a href="/ipfs/{cid}/">{_esc(pin.name)}</a> {cid}</li>')
        body = (
            "<!doctype html>\n<html><head><meta charset='utf-8'>"
            f"<title>{_esc(node.config.name)}</title></head><body>"
            f"<h1>{_esc(node.config.name)}</h1><p>peer {node.peer_id}</p>"
            f"<h2>Content</h2><ul>{''.join(rows) or '<li>nothing pinned here</li>'}</ul>"
            "</body></html>\n"
        )
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    # --- serving one path -----------------------------------------------------------------

    async def _serve(
        self, request: web.Request, root: CID, path: list[str], shown: str, cache: str
    ) -> web.StreamResponse:
        fmt = wanted_format(request.query.get("format"), request.headers.get("Accept", ""))
        trusted = is_trusted(request)
        if not trusted:
            await self._check_public(root)
        await self._ensure(root, trusted)
        store = self.node.storage
        target = resolve_path(store.read_block, root, path) if path else root
        shown_path = shown + "".join(f"/{p}" for p in path)
        etag = f'"{target.encode()}{"" if fmt is None else "." + fmt}"'
        headers = {
            "Etag": etag,
            "Cache-Control": cache,
            "X-Ipfs-Path": shown_path,
            "X-Ipfs-Roots": root.encode(),
        }
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        data = store.read_block(target)
        codec = cid_codec(target)
        if fmt == "raw":
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Content-Disposition"] = f'attachment; filename="{target.encode()}.bin"'
            return web.Response(body=data, content_type=RAW_TYPE, headers=headers)
        if fmt == "car":
            return await self._car(request, target, headers)
        if codec == DAG_CBOR and not is_legacy_file(target, data):
            if fmt == "dag-cbor":
                return web.Response(body=data, content_type=DAG_CBOR_TYPE, headers=headers)
            return web.Response(
                body=dag_json(decode(data)), content_type="application/json", headers=headers
            )
        if fmt is not None:
            raise BadRequest(f"format={fmt} applies to DAG-CBOR blocks; {target.encode()} is not")
        if codec != DAG_CBOR and kind(read_node(target, data)) == "directory":
            return await self._directory(request, target, shown_path, headers)
        name = path[-1] if path else request.query.get("filename")
        return await self._file(request, target, name, headers)

    async def _directory(
        self, request: web.Request, cid: CID, shown_path: str, headers: dict[str, str]
    ) -> web.StreamResponse:
        if not request.path.endswith("/"):
            # relative links in the page (and in its index.html) need the trailing slash
            raise web.HTTPMovedPermanently(location=request.path + "/", headers=headers)
        store = self.node.storage
        entries = list_directory(read_node(cid, store.read_block(cid)))
        index = next((e for e in entries if e.name == "index.html"), None)
        if index is not None:
            return await self._file(request, parse_cid(index.cid), "index.html", headers)
        listed = [Listed(e.name or "", parse_cid(e.cid).encode(), e.tsize) for e in entries]
        page = listing_page(shown_path, listed)
        headers["Etag"] = headers["Etag"].rstrip('"') + '.dir"'
        return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)

    async def _file(
        self, request: web.Request, cid: CID, name: str | None, headers: dict[str, str]
    ) -> web.StreamResponse:
        store = self.node.storage
        size = size_of(store.read_block, cid)
        head = b"".join(read_file_range(store.read_block, cid, 0, min(size, SNIFF_BYTES)))
        wanted = parse_range(request.headers.get("Range"), size)
        start, end = (0, size) if wanted is None else wanted
        response = web.StreamResponse(status=200 if wanted is None else 206, headers=headers)
        media, _, charset = content_type(name, head).partition("; charset=")
        response.content_type = media
        if charset:
            response.charset = charset
        response.headers["Accept-Ranges"] = "bytes"
        response.content_length = end - start
        if wanted is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        await response.prepare(request)
        if request.method != "HEAD":
            for piece in read_file_range(store.read_block, cid, start, end):
                await response.write(piece)
        await response.write_eof()
        return response

    async def _car(
        self, request: web.Request, root: CID, headers: dict[str, str]
    ) -> web.StreamResponse:
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Content-Disposition"] = f'attachment; filename="{root.encode()}.car"'
        response = web.StreamResponse(headers=headers)
        response.headers["Content-Type"] = CAR_CONTENT_TYPE
        await response.prepare(request)
        if request.method != "HEAD":
            header = encode({"roots": [root], "version": 1})
            await response.write(encode_uvarint(len(header)) + header)
            for block in self.node.storage.walk(root):
                raw = block.cid.cid_bytes
                await response.write(encode_uvarint(len(raw) + len(block.data)) + raw + block.data)
        await response.write_eof()
        return response

    # --- what may be served, and fetching the rest ------------------------------------------

    async def _ensure(self, root: CID, trusted: bool) -> None:
        """Have the whole DAG under ``root`` here: fetched for the local user, within the
        gateway's limits; a stranger gets only what is already held."""
        storage = self.node.storage
        if storage.has(root) and not storage.missing(root):
            return
        if not trusted:
            raise BlockNotFound(f"{root.encode()} is not held here")
        limit = self.config.max_fetch_bytes
        try:
            await storage.fetch(root, timeout=self.config.fetch_seconds, max_bytes=limit)
        except LimitExceeded:
            raise LimitExceeded(
                f"{root.encode()} is larger than this gateway fetches"
                f" (gateway.max_fetch_bytes: {limit})",
                hint="pin it on this peer first, or raise gateway.max_fetch_bytes",
            ) from None

    def _is_public_pin(self, name: str) -> bool:
        return name.startswith(tuple(self.config.public_pins))

    async def _check_public(self, cid: CID) -> None:
        if cid.cid_bytes not in await self._public_cids():
            raise NotPublic(
                f"{cid.encode()} is not public content of this peer",
                hint="content is served to others when pinned under"
                f" {', '.join(self.config.public_pins)}",
            )

    async def _public_cids(self) -> frozenset[bytes]:
        """Every CID under a public pin (cached until the public pins change)."""
        pins = tuple(
            sorted(
                (p.name, p.root.cid_bytes)
                for p in await self.node.storage.pins()
                if self._is_public_pin(p.name)
            )
        )
        if self._public is None or self._public[0] != pins:
            cids = self._reachable([parse_cid(r) for _, r in pins])
            self._public = (pins, cids)
        return self._public[1]

    def _reachable(self, roots: list[CID]) -> frozenset[bytes]:
        """Every CID under ``roots``. Only blocks that can link are read: a raw leaf (most of
        a file's bytes) is known from its parent's link, so a 1 GB public file costs its few
        dozen DAG-PB nodes, not a gigabyte of reads. On the loop, with the store's loop reader."""
        out: set[bytes] = set()
        stack = list(roots)
        storage = self.node.storage
        while stack:
            cid = stack.pop()
            if cid.cid_bytes in out:
                continue
            out.add(cid.cid_bytes)
            if cid_codec(cid) == RAW:
                continue  # a leaf: known from its parent's link, never read
            try:
                data = storage.read_block(cid)
            except BlockNotFound:
                continue  # a gap in a pinned DAG: what is held is served
            stack.extend(links(Block(cid, data)))
        return frozenset(out)


def _segments(path: str) -> list[str]:
    parts = [unquote(p) for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise NoSuchPath("a path through content cannot hold '.' or '..'")
    return parts


def _esc(text: str) -> str:
    return html.escape(text)
