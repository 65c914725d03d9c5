"""Power-user storage commands. They work on the peer's block store directly (SQLite allows a
running peer and these commands to share it), so they need no running peer."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..blocks import CID, DAG_CBOR, RAW, Block, cid_codec, decode, parse_cid
from ..config import load_config
from ..errors import ConfigError, UsageError
from ..home import config_path
from ..storage.car import read_car_stream, write_car
from ..storage.errors import StorageError
from ..storage.files import is_legacy_file, read_file_range, size_of
from ..storage.store import SQLiteBlockStore
from ..storage.unixfs import import_path, kind, list_directory, read_node, resolve_path
from .output import err, human_bytes, print_json, print_table, transfer


def add_commands(sub: Any) -> None:
    def common(p: argparse.ArgumentParser, *, json: bool = False) -> argparse.ArgumentParser:
        if json:
            p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument(
            "--config",
            "-c",
            help="the peer's config (default: ./peer.yaml in an app folder, else your home peer)",
        )
        return p

    p = common(
        sub.add_parser(
            "put",
            help="store a file or directory as UnixFS (the CID `ipfs add --cid-version=1"
            " --raw-leaves` gives); prints its CID",
        ),
        json=True,
    )
    p.add_argument("file", type=Path, metavar="FILE|DIR", help="the file or directory to store")
    p.add_argument("--pin", metavar="NAME", help="pin it under NAME")
    p.add_argument("--hidden", action="store_true", help="include dot files (as ipfs add)")
    p.set_defaults(func=cmd_put)

    p = common(
        sub.add_parser("get", help="read a file or directory (a DAG-CBOR block is printed as JSON)")
    )
    p.add_argument("cid", metavar="CID[/PATH]", help="what to read: a CID, and a path inside it")
    p.add_argument(
        "--output", "-o", type=Path, help="write here instead of stdout (needed for a directory)"
    )
    p.set_defaults(func=cmd_get)

    pin = sub.add_parser("pin", help="manage pins").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = common(pin.add_parser("add", help="pin the complete DAG under CID as NAME"))
    p.add_argument("name", help="the pin's name")
    p.add_argument("cid", help="the DAG's root")
    p.set_defaults(func=cmd_pin_add)
    p = common(pin.add_parser("rm", help="remove the pin NAME"))
    p.add_argument("name", help="the pin's name")
    p.set_defaults(func=cmd_pin_rm)
    p = common(pin.add_parser("ls", help="list pins"), json=True)
    p.set_defaults(func=cmd_pin_ls)

    dag = sub.add_parser("dag", help="import and export DAGs as CAR v1").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = common(dag.add_parser("export", help="write the DAG under CID as a CAR v1 file"), json=True)
    p.add_argument("cid", help="the DAG's root")
    p.add_argument("--output", "-o", type=Path, required=True, help="the CAR file to write")
    p.set_defaults(func=cmd_dag_export)
    p = common(
        dag.add_parser("import", help="read a CAR v1 file into the store (verified)"), json=True
    )
    p.add_argument("file", type=Path, help="the CAR file")
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
    p.add_argument("file", type=Path, help="the N-Quads file")
    p.add_argument("--vocab", default="schema.org", help="the vocabulary recorded with the set")
    p.add_argument("--pin", metavar="NAME", help="pin the set as NAME")
    p.set_defaults(func=cmd_quads_import)

    p = common(sub.add_parser("gc", help="delete blocks no pin reaches"), json=True)
    p.add_argument(
        "--grace",
        type=float,
        default=60.0,
        help="keep unpinned blocks younger than this many seconds (default 60)",
    )
    p.set_defaults(func=cmd_gc)


def _store(args: argparse.Namespace) -> SQLiteBlockStore:
    args.config = config_path(args.config)
    config = load_config(args.config)
    if not config.storage.enabled or config.storage.backend == "memory":
        raise ConfigError(
            "this peer keeps no block store on disk",
            path=config.source,
            hint="set storage.backend: sqlite (or auto) in peer.yaml",
        )
    base = Path(args.config).resolve().parent
    return SQLiteBlockStore(base / config.storage.path)


class _BatchWriter:
    """Blocks written to the store in transactions of ~8 MiB: bounded memory, few commits."""

    def __init__(self, store: SQLiteBlockStore) -> None:
        self.store = store
        self.batch: list[Block] = []
        self.held = 0
        self.blocks = 0

    def emit(self, block: Block) -> None:
        self.batch.append(block)
        self.held += len(block.data)
        self.blocks += 1
        if self.held >= 8 * 1024 * 1024:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.store.put_many(self.batch, time.time())
        self.batch = []
        self.held = 0


def cmd_put(args: argparse.Namespace) -> int:
    store = _store(args)
    writer = _BatchWriter(store)
    try:
        with transfer(f"put {args.file.name}", _size(args.file)) as moved:
            entry = import_path(
                args.file,
                writer.emit,
                hidden=args.hidden,
                progress=lambda done: moved.advance(done - moved.bytes),
            )
    except FileNotFoundError:
        raise UsageError(f"{args.file}: no such file or directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    writer.flush()
    if args.pin:
        store.add_pin(args.pin, entry.cid)
    store.close()
    if args.json:
        print_json({"cid": entry.cid.encode(), "bytes": moved.bytes, "blocks": writer.blocks})
        return 0
    print(entry.cid.encode())
    err().print(
        f"added {moved.rate()}, {writer.blocks} blocks"
        + (f", pinned as {args.pin}" if args.pin else "")
    )
    return 0


def _size(path: Path) -> int | None:
    """The bytes under a file or folder (for a progress bar), None if it cannot be read."""
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return path.stat().st_size
    except OSError:
        return None


def cmd_get(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        root, _, rest = args.cid.partition("/")
        cid = resolve_path(
            lambda c: store.get(c).data, parse_cid(root), [p for p in rest.split("/") if p]
        )
        data = store.get(cid).data
        is_cbor = cid_codec(cid) == DAG_CBOR
        if is_cbor and not is_legacy_file(cid, data):
            text = json.dumps(_jsonable(decode(data)), indent=2) + "\n"
            _write(args.output, [text.encode()])
        elif not is_cbor and kind(read_node(cid, data)) == "directory":
            if args.output is None:
                raise UsageError(
                    f"{cid.encode()} is a directory",
                    hint="give --output DIR to write it, or CID/PATH to read one file in it",
                )
            n = _write_tree(store, cid, args.output)
            print(f"wrote {n} files to {args.output}", file=sys.stderr)
        else:
            get = lambda c: store.get(c).data  # noqa: E731
            _write(args.output, read_file_range(get, cid), size_of(get, cid))
    finally:
        store.close()
    return 0


def _write(output: Path | None, parts: Iterable[bytes], total: int | None = None) -> int:
    """Write ``parts`` to a file (with progress, and a summary) or stdout; bytes written."""
    if output is None:
        written = 0
        for part in parts:
            sys.stdout.buffer.write(part)
            written += len(part)
        return written
    with output.open("wb") as out, transfer(f"get {output.name}", total) as moved:
        for part in parts:
            out.write(part)
            moved.advance(len(part))
    err().print(f"wrote {moved.rate()} to {output}")
    return moved.bytes


def _write_tree(store: SQLiteBlockStore, cid: CID, target: Path) -> int:
    """Write the UnixFS directory at ``cid`` under ``target``; returns the files written."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for link in list_directory(read_node(cid, store.get(cid).data)):
        name = link.name or ""
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise StorageError(f"directory {cid.encode()} holds an unsafe name {name!r}")
        child = parse_cid(link.cid)
        data = store.get(child).data
        if cid_codec(child) != RAW and kind(read_node(child, data)) == "directory":
            written += _write_tree(store, child, target / name)
        else:
            _write(target / name, read_file_range(lambda c: store.get(c).data, child))
            written += 1
    return written


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
    pins = store.pins()
    store.close()
    if args.json:
        print_json([{"name": p.name, "root": p.root.encode()} for p in pins])
    elif not sys.stdout.isatty():
        for pin in pins:  # a pipe gets lines a script can cut: NAME<TAB>CID
            print(f"{pin.name}\t{pin.root.encode()}")
    else:
        print_table(["PIN", "ROOT"], [(p.name, p.root.encode()) for p in pins])
    return 0


def cmd_dag_export(args: argparse.Namespace) -> int:
    store = _store(args)
    cid = parse_cid(args.cid)
    with args.output.open("wb") as out:
        n = write_car(out, [cid], store.walk(cid))
    store.close()
    if args.json:
        print_json({"root": cid.encode(), "blocks": n, "bytes": args.output.stat().st_size})
    else:
        print(f"exported {n} blocks ({human_bytes(args.output.stat().st_size)}) to {args.output}")
    return 0


def cmd_dag_import(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        src = args.file.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    writer = _BatchWriter(store)
    with src, transfer(f"import {args.file.name}", _size(args.file)) as moved:
        roots, blocks = read_car_stream(src)
        for block in blocks:
            writer.emit(block)
            moved.advance(len(block.data) + 40)
    writer.flush()
    if args.pin and roots:
        store.add_pin(args.pin, roots[0])
    if args.json:
        print_json({"roots": [r.encode() for r in roots], "blocks": writer.blocks})
    else:
        print(f"imported {writer.blocks} blocks; roots: {' '.join(r.encode() for r in roots)}")
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
    if args.json:
        print_json({"removed": result.removed, "freed_bytes": result.freed_bytes})
    else:
        print(f"removed {result.removed} blocks, freed {result.freed_bytes} bytes")
    store.close()
    return 0
