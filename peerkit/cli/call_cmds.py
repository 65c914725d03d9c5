"""``peerkit call ADDR TYPE [JSON]`` (the grpcurl of peerkit) and ``peerkit console`` (an
asyncio REPL with a started node bound as ``node``, like ``rails console``)."""

from __future__ import annotations

import argparse
import ast
import asyncio
import code
import concurrent.futures
import importlib
import inspect
import json
import sys
import threading
import types
from pathlib import Path
from typing import Any

import msgspec

from ..errors import PeerkitError, UsageError, ValidationFailed


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "call",
        help="call a request type by its tag on a running peer; prints the reply as JSON",
        description="Send one request (JSON body, validated here first) to a running peer and"
        " print its reply as JSON. App types are found through --import, or through the"
        " services of ./peer.yaml.",
    )
    p.add_argument("addr", metavar="ADDR", help="the peer: a multiaddr ending in /p2p/<id>")
    p.add_argument("type", metavar="TYPE", help="the request's tag, e.g. sample.Greet")
    p.add_argument("body", nargs="?", default="{}", metavar="JSON", help="its fields (default {})")
    p.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module for its message types (repeatable)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    p.set_defaults(func=cmd_call)

    p = sub.add_parser(
        "console",
        help="an asyncio REPL with a started node bound as `node` (await works at the prompt)",
    )
    p.add_argument(
        "--config", "-c", type=Path, help="start this peer (default: ./peer.yaml if present)"
    )
    p.add_argument(
        "--attach",
        metavar="ADDR",
        help="start a throwaway peer connected to this running one (bound as `peer`)",
    )
    p.set_defaults(func=cmd_console)


# --- call -------------------------------------------------------------------------------------

#: the families whose message types every peer knows
BUILT_IN = ("auth", "dcs", "naming", "rendezvous", "routing", "storage")


def cmd_call(args: argparse.Namespace) -> int:
    """Exit 0 with the reply on stdout; any error (here or at the peer): its message, its
    hint, exit 1, as grpcurl does."""
    try:
        return _call_once(args)
    except PeerkitError as exc:
        print(f"peerkit: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1


def _call_once(args: argparse.Namespace) -> int:
    msg_type = request_type(args.type, args.modules)
    try:
        fields = json.loads(args.body)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the body is not JSON: {exc}", hint='quote it for the shell: \'{"name": "x"}\''
        ) from None
    try:
        msg: Any = msgspec.convert(fields, msg_type)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"{args.type}: {exc}") from None
    reply = asyncio.run(_call(args.addr, msg, args.timeout))
    print(json.dumps(msgspec.to_builtins(reply), indent=2, ensure_ascii=False))
    return 0


def request_type(tag: str, modules: list[str]) -> type[Any]:
    from ..messages import Request, default_registry, tag_of

    _import_app_types(modules)
    msg_type = default_registry.get(tag)
    if msg_type is None:
        known = sorted(tag_of(c) for c in default_registry.types() if issubclass(c, Request))
        close = [t for t in known if t.split(".")[0] == tag.split(".")[0]] or known[:12]
        raise UsageError(
            f"no request type is tagged {tag!r} here",
            hint=f"run it in the app's folder, or --import its module; known: {', '.join(close)}",
        )
    if not issubclass(msg_type, Request):
        raise UsageError(f"{tag} is not a request type (it gets no reply)")
    return msg_type


def _import_app_types(modules: list[str]) -> None:
    """The app's types: the modules asked for, and the services of ./peer.yaml (quietly: a
    folder without one is fine)."""
    from ..node import add_app_paths, import_actor

    add_app_paths(Path("peer.yaml"))
    for family in BUILT_IN:
        importlib.import_module(f"peerkit.{family}.messages")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"cannot import {module}: {exc}") from None
    if Path("peer.yaml").exists():
        from ..config import load_config

        for spec in load_config(Path("peer.yaml")).services:
            import_actor(spec, source=None)


async def _call(addr: str, msg: Any, timeout: float) -> Any:
    from ..config import PeerConfig, RoutingConfig
    from ..log import configure_logging
    from ..node import Node

    configure_logging("error")
    # a throwaway peer: it answers nobody's lookups
    node = Node(PeerConfig(name="call", log_level="error", routing=RoutingConfig(enabled=False)))
    await node.start()
    try:
        peer = await node.connect(addr, timeout=min(timeout, 10.0))
        return await node.request(peer, msg, timeout=timeout)
    finally:
        await node.stop()


# --- console ----------------------------------------------------------------------------------


def cmd_console(args: argparse.Namespace) -> int:
    from ..log import configure_logging

    configure_logging("warning")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    names: dict[str, Any] = {"asyncio": asyncio}
    node = loop.run_until_complete(_console_node(args, names))
    banner = (
        f"peerkit console: `node` is {node.config.name} ({node.peer_id}),"
        f" started{'' if 'peer' not in names else ', attached to `peer`'}.\n"
        "await works here: `await node.request(peer, msg)`; exit() or Ctrl-D to stop."
    )
    console = AsyncConsole(names, loop)
    repl = threading.Thread(target=console.run, args=(banner,), daemon=True)
    repl.start()
    try:
        loop.run_until_complete(console.finished)
    except KeyboardInterrupt:
        pass
    finally:
        loop.run_until_complete(node.stop())
        loop.close()
    return 0


async def _console_node(args: argparse.Namespace, names: dict[str, Any]) -> Any:
    import peerkit

    from ..config import PeerConfig, load_config
    from ..node import Node, add_app_paths, import_actor

    path = args.config or (Path("peer.yaml") if Path("peer.yaml").exists() else None)
    if path is not None and args.attach is None:
        add_app_paths(path)
        config = load_config(path)
        node = Node(config)
        for spec in config.services:
            node.spawn(import_actor(spec, source=config.source))
    else:
        node = Node(PeerConfig(name="console", log_level="warning"))
    await node.start()
    names.update(node=node, peerkit=peerkit)
    if args.attach:
        names["peer"] = await node.connect(args.attach)
    return node


class AsyncConsole(code.InteractiveConsole):
    """An interactive console whose top-level ``await`` runs on the node's loop (the REPL reads
    on its own thread; the loop keeps serving the network meanwhile): what ``python -m
    asyncio`` does, with a node in scope."""

    def __init__(self, names: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(names)
        self.loop = loop
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.finished: asyncio.Future[None] = loop.create_future()

    def runcode(self, code_obj: types.CodeType) -> None:
        func = types.FunctionType(code_obj, self.locals)
        try:
            result = func()
            if inspect.iscoroutine(result):
                future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(
                    result, self.loop
                )
                future.result()
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()

    def run(self, banner: str) -> None:
        try:
            self.interact(banner=banner, exitmsg="stopping the node")
        except SystemExit:
            pass
        finally:
            self.loop.call_soon_threadsafe(_finish, self.finished)


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


__all__ = ["add_commands"]
