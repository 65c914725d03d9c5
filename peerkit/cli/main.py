"""The ``peerkit`` command line. User errors print a message and a hint, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import PeerkitError

EXIT_OK = 0
EXIT_FAILED = 1  # it was tried and failed: the network, a peer, the store; or the peer failed
EXIT_USAGE = 2  # the command could not start: bad arguments, config or input; fix the command
EXIT_REFUSED = 3  # a check said no: authorization, keys, passphrase, a revoked name


def exit_code(exc: PeerkitError) -> int:
    """The one table from errors to exit codes (the first matching class wins)."""
    from ..auth.errors import AuthError, TokenMalformed
    from ..errors import ConfigError, IdentityError, Refused, UsageError, ValidationFailed
    from ..naming.keys import KeyDrift
    from ..naming.log import NameRevoked
    from ..naming.session import SessionError
    from ..storage.errors import InvalidCID
    from ..storage.nquads import NQuadsError

    table: list[tuple[type[PeerkitError], int]] = [
        (TokenMalformed, EXIT_USAGE),  # what was given is not a token at all
        (AuthError, EXIT_REFUSED),
        (Refused, EXIT_REFUSED),
        (KeyDrift, EXIT_REFUSED),
        (SessionError, EXIT_REFUSED),
        (NameRevoked, EXIT_REFUSED),
        (UsageError, EXIT_USAGE),
        (ConfigError, EXIT_USAGE),
        (IdentityError, EXIT_USAGE),
        (ValidationFailed, EXIT_USAGE),
        (InvalidCID, EXIT_USAGE),
        (NQuadsError, EXIT_USAGE),
    ]
    from peerkit._generators.service.layout import GeneratorError
    from peerkit._generators.service.schema import SchemaError

    table += [(GeneratorError, EXIT_USAGE), (SchemaError, EXIT_USAGE)]
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # `peerkit run` (every peer of a formation) builds only its own command: the others import
    # the CLI's output (rich) and storage/naming/auth tools a running peer never uses
    parser = _parser(only_run=words[:1] == ["run"])
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except PeerkitError as exc:
        print(f"peerkit: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130


def _parser(*, only_run: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peerkit", description="Build and run peer-to-peer application nodes."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run one peer until SIGINT/SIGTERM")
    run.add_argument(
        "--config",
        "-c",
        action="append",
        help="peer config (default: ./peer.yaml in an app folder, else your home peer);"
        " repeat to run several peers in this process",
    )
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="override the config's log level",
    )
    run.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    run.add_argument(
        "--announce",
        action="append",
        default=[],
        metavar="ADDR",
        help="also announce this address (a pod's DNS name, a forwarded port); repeatable",
    )
    run.add_argument(
        "--ready-json",
        action="store_true",
        help="print one JSON line with the peer id and addresses once ready",
    )
    run.set_defaults(func=_cmd_run)
    if only_run:
        return parser

    from . import (
        auth_cmds,
        call_cmds,
        doc_cmds,
        formation_cmds,
        generate_cmds,
        naming_cmds,
        new_cmd,
        storage_cmds,
    )

    new_cmd.add_commands(sub)
    generate_cmds.add_commands(sub)
    formation_cmds.add_commands(sub)
    doc_cmds.add_commands(sub)
    storage_cmds.add_commands(sub)
    naming_cmds.add_commands(sub)
    auth_cmds.add_commands(sub)
    call_cmds.add_commands(sub)
    completion = sub.add_parser(
        "completion", help="print a shell completion script (e.g. >> ~/.bashrc via eval)"
    )
    completion.add_argument(
        "shell", choices=["bash", "zsh", "tcsh"], help="the shell to complete in"
    )
    completion.set_defaults(func=_cmd_completion)
    return parser


def _cmd_completion(args: argparse.Namespace) -> int:
    """Completion from the parser itself (shtab): every command and option, always current."""
    import shtab

    print(shtab.complete(_parser(), shell=args.shell))
    return 0


#: peerkit's optional C helpers (setup.py), and what is slower without each
_C_HELPERS = {
    "peerkit._cbor_floats": "data with floats hashes slower",
    "peerkit._envelope_calls": "every message is encoded and decoded slower",
}


def _version() -> str:
    from importlib.util import find_spec

    from .. import __version__

    # found, not imported: the parser is built for every command
    missing = [slower for name, slower in _C_HELPERS.items() if find_spec(name) is None]
    if not missing:
        return f"peerkit {__version__} (with its C helpers)"
    return (
        f"peerkit {__version__} (without its C helpers: {'; '.join(missing)}; "
        "install a C compiler and reinstall peerkit to build them)"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from ..config import check_addresses, load_config
    from ..log import configure_logging
    from ..node import Node, add_app_paths

    configs = []
    from ..home import config_path

    for path in args.config or [config_path(None)]:
        add_app_paths(Path(path))
        config = load_config(Path(path))
        if args.announce:
            config.announce = [*config.announce, *args.announce]
            check_addresses(config)
        configs.append(config)
    configure_logging(args.log_level or configs[0].log_level, json=args.json_logs)
    nodes = [Node.from_config(config) for config in configs]
    return asyncio.run(_run_nodes(nodes, ready_json=args.ready_json))


async def _run_nodes(nodes: list, *, ready_json: bool) -> int:
    """Run the peers (several share one process and one trio guest run: less memory per peer)
    until a signal, or until one of them fails."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = []
    try:
        for node in nodes:
            await node.start()
            started.append(node)
            _announce(node, ready_json)
        waiters = [asyncio.ensure_future(n.wait_stopped()) for n in nodes]
        waiters.append(asyncio.ensure_future(stop.wait()))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
    finally:
        for node in reversed(started):
            await node.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    failed = [n for n in nodes if n.failure is not None]
    for node in failed:
        print(f"peerkit: {node.config.name} stopped: {node.failure}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _announce(node, ready_json: bool) -> None:
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    if ready_json:
        out(
            json.dumps(
                {
                    "event": "ready",
                    "name": node.config.name,
                    "peer_id": node.peer_id,
                    "addrs": node.addrs(),
                    "gateway": node.gateway_url,
                }
            )
        )
        return
    out(f"peerkit: {node.config.name} is running (Ctrl-C to stop)")
    out(f"  peer id: {node.peer_id}")
    out("  listening on:")
    for addr in node.addrs():
        out(f"    {addr}")
    if node.gateway_url:
        out(f"  gateway: {node.gateway_url}  (/health/ready, /metrics, /peers, /actors)")


if __name__ == "__main__":
    sys.exit(main())
