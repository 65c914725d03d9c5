"""The pure parts of the content gateway: which response format a request asks for, byte
ranges, content types, DAG-JSON, and the directory listing page (IPFS HTTP gateway specs:
path gateway and trustless gateway)."""

from __future__ import annotations

import base64
import html
import json
import mimetypes
from typing import Any, NamedTuple
from urllib.parse import quote

from ..blocks import CID
from ..errors import UsageError

RAW_TYPE = "application/vnd.ipld.raw"
CAR_TYPE = "application/vnd.ipld.car"
DAG_CBOR_TYPE = "application/vnd.ipld.dag-cbor"
DAG_JSON_TYPE = "application/vnd.ipld.dag-json"
#: what a trustless response says it is: a CAR v1, blocks in depth-first order, no duplicates
CAR_CONTENT_TYPE = f"{CAR_TYPE}; version=1; order=dfs; dups=n"
#: content addressed: the bytes behind a CID never change
IMMUTABLE = "public, max-age=29030400, immutable"

_FORMATS = {
    "raw": RAW_TYPE,
    "car": CAR_TYPE,
    "dag-cbor": DAG_CBOR_TYPE,
    "dag-json": DAG_JSON_TYPE,
    "json": "application/json",
}


class BadRequest(UsageError):
    """A request the gateway cannot answer as asked (400)."""

    code = "bad_request"


def wanted_format(query_format: str | None, accept: str) -> str | None:
    """The response format asked for by ``?format=`` (first) or ``Accept``; None for the
    default (a file as itself, a directory as a listing, DAG-CBOR as JSON)."""
    if query_format:
        if query_format not in _FORMATS:
            raise BadRequest(
                f"format={query_format} is not one of {', '.join(_FORMATS)}",
                hint="?format=raw for one block, ?format=car for the DAG",
            )
        return query_format
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        for name, media_type in _FORMATS.items():
            if media == media_type and name != "json":
                return name
    return None


class ByteRange(NamedTuple):
    start: int
    end: int  # exclusive


class Unsatisfiable(UsageError):
    """A Range no byte of the file is in (416)."""

    code = "range_not_satisfiable"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range asked for in a ``Range`` header, clipped to ``size``; None for the
    whole file (no header, a unit other than bytes, or several ranges: the whole body is a
    valid answer to those, RFC 9110 14.2)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # bytes=-N: the last N bytes
            n = int(last)
            if n <= 0:
                raise Unsatisfiable(f"bytes=-{n} asks for nothing")
            return ByteRange(max(size - n, 0), size)
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None  # malformed: ignored, as RFC 9110 says
    if start < 0 or (last and end <= start):
        return None
    if start >= size:
        raise Unsatisfiable(f"the file has {size} bytes; bytes={start}- is past its end")
    return ByteRange(start, min(end, size))


# what sniffing needs to tell apart, by the first bytes (a small part of the WHATWG table)
_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x00asm", "application/wasm"),
]


def content_type(name: str | None, head: bytes) -> str:
    """A file's type: from its name's extension when it has one, else from its first bytes."""
    if name:
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed:
            return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed
    for signature, media in _SIGNATURES:
        if head.startswith(signature):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<h1", b"<p>")):
        return "text/html; charset=utf-8"
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in stripped):
        return "image/svg+xml"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return "application/octet-stream"
    if b"\x00" in head:
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def dag_json(obj: Any) -> bytes:
    """DAG-JSON bytes of a decoded DAG-CBOR value: links as {"/": cid}, bytes as
    {"/": {"bytes": base64}}, keys sorted, no whitespace."""
    return json.dumps(_dag_json_value(obj), sort_keys=True, separators=(",", ":")).encode()


def _dag_json_value(obj: Any) -> Any:
    if isinstance(obj, CID):
        return {"/": obj.encode()}
    if isinstance(obj, bytes):
        return {"/": {"bytes": base64.b64encode(obj).decode().rstrip("=")}}
    if isinstance(obj, dict):
        return {k: _dag_json_value(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_dag_json_value(v) for v in obj]
    return obj


class Listed(NamedTuple):
    name: str
    cid: str
    size: int | None


def listing_page(path: str, entries: list[Listed]) -> str:
    """The HTML page of a directory without an index.html."""
    base = path if path.endswith("/") else path + "/"
    rows = []
    if path.count("/") > 2:  # /ipfs/<cid>/sub: a way up
        rows.append('<tr><td><a href="..">..</a></td><td></td><td></td></tr>')
    for e in entries:
        href = html.escape(base + quote(e.name))
        size = "" if e.size is None else f"{e.size:,}"
        rows.append(
            f'<tr><td><a href="{href}">{html.escape(e.name)}</a></td>'
            f'<td class="cid">{html.escape(e.cid)}</td><td class="size">{size}</td></tr>'
        )
    title = html.escape(path)
    return (
        "<!doctype html>\n"
        f'<html><head><meta charset="utf-8"><title>{title}</title>'
        "<style>body{font:14px system-ui,sans-serif;margin:2em}td{padding:2px 12px}"
        ".cid{font-family:monospace;color:#666}.size{text-align:right}</style></head>"
        f"<body><h1>Index of {title}</h1><table>{''.join(rows)}</table></body></html>\n"
    )
