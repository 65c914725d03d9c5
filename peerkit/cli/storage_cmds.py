"""Power-user storage commands. They work on the peer's block store directly (SQLite allows a
running peer and these commands to share it), so they need no running peer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..blocks import CID, RAW, decode, parse_cid
from ..config import load_config
from ..errors import ConfigError
from ..storage.car import read_car, write_car
from ..storage.files import FILE_TYPE, file_blocks, iter_file
from ..storage.store import SQLiteBlockStore


def add_commands(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", "-c", default="peer.yaml", help="the peer's config")
        return p

    p = common(sub.add_parser("put", help="store a file as a DAG; prints its CID"))
    p.add_argument("file", type=Path)
    p.add_argument("--pin", metavar="NAME", help="pin the file under NAME")
    p.set_defaults(func=cmd_put)

    p = common(sub.add_parser("get", help="read a file (or print a DAG-CBOR block as JSON)"))
    p.add_argument("cid")
    p.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    p.set_defaults(func=cmd_get)

    pin = sub.add_parser("pin", help="manage pins").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = common(pin.add_parser("add", help="pin the complete DAG under CID as NAME"))
    p.add_argument("name")
    p.add_argument("cid")
    p.set_defaults(func=cmd_pin_add)
    p = common(pin.add_parser("rm", help="remove the pin NAME"))
    p.add_argument("name")
    p.set_defaults(func=cmd_pin_rm)
    p = common(pin.add_parser("ls", help="list pins"))
    p.set_defaults(func=cmd_pin_ls)

    dag = sub.add_parser("dag", help="import and export DAGs as CAR v1").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = common(dag.add_parser("export", help="write the DAG under CID as a CAR v1 file"))
    p.add_argument("cid")
    p.add_argument("--output", "-o", type=Path, required=True)
    p.set_defaults(func=cmd_dag_export)
    p = common(dag.add_parser("import", help="read a CAR v1 file into the store (verified)"))
    p.add_argument("file", type=Path)
    p.add_argument("--pin", metavar="NAME", help="pin the CAR's first root as NAME")
    p.set_defaults(func=cmd_dag_import)

    quads = sub.add_parser(
        "quads", help="documents of the semantic graph as N-Quads (RDF tools)"
    ).add_subparsers(metavar="ACTION", dest="action", required=True)
    p = common(quads.add_parser("export", help="write a stored quad set as N-Quads"))
    p.add_argument("cid", help="the quad set's root (what put_document returned)")
    p.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    p.set_defaults(func=cmd_quads_export)
    p = common(quads.add_parser("import", help="store N-Quads as a quad set; prints its root"))
    p.add_argument("file", type=Path)
    p.add_argument("--vocab", default="schema.org", help="the vocabulary recorded with the set")
    p.add_argument("--pin", metavar="NAME", help="pin the set as NAME")
    p.set_defaults(func=cmd_quads_import)

    p = common(sub.add_parser("gc", help="delete blocks no pin reaches"))
    p.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="keep unpinned blocks younger than this many seconds (default 60)",
    )
    p.set_defaults(func=cmd_gc)


def _store(args: argparse.Namespace) -> SQLiteBlockStore:
    config = load_config(args.config)
    if not config.storage.enabled or config.storage.backend == "memory":
        raise ConfigError(
            "this peer keeps no block store on disk",
            path=config.source,
            hint="set storage.backend: sqlite (or auto) in peer.yaml",
        )
    base = Path(args.config).resolve().parent
    return SQLiteBlockStore(base / config.storage.path)


def cmd_put(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        with open(args.file, "rb") as f:
            root, leaves = file_blocks(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    store.put_many([*leaves, root], time.time())
    if args.pin:
        store.add_pin(args.pin, root.cid)
    print(root.cid.encode())
    store.close()
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    store = _store(args)
    cid = parse_cid(args.cid)
    block = store.get(cid)
    out = args.output.open("wb") if args.output else sys.stdout.buffer
    try:
        if block.codec == RAW:
            out.write(block.data)
            return 0
        obj = decode(block.data)
        if isinstance(obj, dict) and obj.get("type") == FILE_TYPE:
            for data in iter_file(lambda c: store.get(c).data, obj):
                out.write(data)
        else:
            out.write(json.dumps(_jsonable(obj), indent=2).encode() + b"\n")
    finally:
        if args.output:
            out.close()
        store.close()
    return 0


def _jsonable(obj: Any) -> Any:
    """DAG-JSON-like view: links as {"/": cid}, bytes as {"/": {"bytes": hex}}."""
    if isinstance(obj, CID):
        return {"/": obj.encode()}
    if isinstance(obj, bytes):
        return {"/": {"bytes": obj.hex()}}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def cmd_pin_add(args: argparse.Namespace) -> int:
    store = _store(args)
    pin = store.add_pin(args.name, args.cid)
    print(f"pinned {pin.root.encode()} as {pin.name}")
    store.close()
    return 0


def cmd_pin_rm(args: argparse.Namespace) -> int:
    store = _store(args)
    store.remove_pin(args.name)
    print(f"unpinned {args.name}")
    store.close()
    return 0


def cmd_pin_ls(args: argparse.Namespace) -> int:
    store = _store(args)
    for pin in store.pins():
        print(f"{pin.name}\t{pin.root.encode()}")
    store.close()
    return 0


def cmd_dag_export(args: argparse.Namespace) -> int:
    store = _store(args)
    cid = parse_cid(args.cid)
    with args.output.open("wb") as out:
        n = write_car(out, [cid], store.walk(cid))
    print(f"exported {n} blocks to {args.output}")
    store.close()
    return 0


def cmd_dag_import(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    roots, blocks = read_car(data)
    batch = list(blocks)
    store.put_many(batch, time.time())
    if args.pin and roots:
        store.add_pin(args.pin, roots[0])
    print(f"imported {len(batch)} blocks; roots: {' '.join(r.encode() for r in roots)}")
    store.close()
    return 0


def cmd_quads_export(args: argparse.Namespace) -> int:
    from ..storage.nquads import to_nquads
    from ..storage.quads import quads_from_blocks

    store = _store(args)
    try:
        cid = parse_cid(args.cid)
        text = to_nquads(
            quads_from_blocks(decode(store.get(cid).data), lambda c: store.get(c).data)
        )
    finally:
        store.close()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10))} quads to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_quads_import(args: argparse.Namespace) -> int:
    from ..storage.nquads import from_nquads
    from ..storage.quads import quads_to_blocks
    from ..storage.vocab import vocabulary

    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{args.file} is not UTF-8 text (N-Quads is)") from None
    quads = from_nquads(text)
    root, chunks = quads_to_blocks(quads, vocabulary(args.vocab))
    store = _store(args)
    try:
        store.put_many([*chunks, root], time.time())
        if args.pin:
            store.add_pin(args.pin, root.cid)
    finally:
        store.close()
    print(root.cid.encode())
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    store = _store(args)
    result = store.gc(written_before=time.time() - args.grace)
    print(f"removed {result.removed} blocks, freed {result.freed_bytes} bytes")
    store.close()
    return 0
