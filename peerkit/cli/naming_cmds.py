"""``peerkit login``, ``keys show`` and ``name publish|resolve|history|watch|revoke``.

Login derives the master key from a local wallet file and a passphrase (prompted, or taken from
PEERKIT_PASSPHRASE for scripts) and keeps a session file readable only by its owner, like an
ssh-agent would keep the key. The name commands start a short-lived client peer that dials the
peer given with ``--via`` and works through it.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
from datetime import UTC
from pathlib import Path
from typing import Any

from ..errors import ConfigError, PeerkitError, UsageError
from ..naming.keys import ME_NAME, KdfParams, MasterKey, derive_master_key, name_key
from ..naming.records import NameRecord, name_for
from ..naming.session import open_session, seal_session
from ..private_files import private_dir, write_private


def _session_dir() -> Path:
    """The app's .peerkit/ in an app folder, else the per-user home (peerkit.home)."""
    from ..home import session_dir

    return session_dir()


def add_commands(sub: Any) -> None:
    p = sub.add_parser("login", help="derive your master key from a wallet and a passphrase")
    p.add_argument(
        "--wallet",
        type=Path,
        help="a file holding a hex secp256k1 private key (Ethereum wallet); default: wallet.key"
        " beside the session (the app's .peerkit/, or your home peer's folder)",
    )
    p.add_argument("--new-wallet", action="store_true", help="create the wallet file")
    p.add_argument("--app", default="peerkit", help="the app's login message m")
    p.set_defaults(func=cmd_login)

    keys = sub.add_parser("keys", help="show your keys").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = keys.add_parser("show", help="master public key, Me DAG name, and name keys")
    p.add_argument("--name", action="append", default=[], help="also show this name's key")
    p.set_defaults(func=cmd_keys_show)

    name = sub.add_parser("name", help="signed names that point at content").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    for action, helptext in [
        ("publish", "point NAME at VALUE (a CID or /ipfs/ path)"),
        ("resolve", "what NAME points at now"),
        ("history", "every record seen for NAME"),
        ("watch", "print updates of NAME until Ctrl-C"),
        ("revoke", "end NAME for good"),
    ]:
        p = name.add_parser(action, help=helptext)
        p.add_argument("name", help="your name (e.g. blog) or an IPNS name (k51...)")
        if action == "publish":
            p.add_argument("value", help="what the name points at: /ipfs/<cid>, /ipns/<name>")
        if action == "resolve":
            p.add_argument("--at", type=int, help="the record with this sequence number")
        if action == "revoke":
            p.add_argument("--successor", help="the name that replaces it")
        p.add_argument(
            "--via",
            required=True,
            metavar="MULTIADDR",
            help="a running peer to work through (…/p2p/<peer id>)",
        )
        p.set_defaults(func=cmd_name)


def _passphrase(confirm: bool) -> str:
    env = os.environ.get("PEERKIT_PASSPHRASE")
    if env:
        return env
    first = getpass.getpass("passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise UsageError("the passphrases differ")
    return first


def _write_private(path: Path, text: str) -> None:
    """A secret file, 0600; peerkit's own folder is made 0700 (a folder the user named for
    their wallet is only created if missing, never re-moded)."""
    if path.parent.resolve() == _session_dir().resolve() or not path.parent.exists():
        private_dir(path.parent)
    write_private(path, text)


def cmd_login(args: argparse.Namespace) -> int:
    from ..naming.keys import EthereumWallet

    if args.wallet is None:
        args.wallet = _session_dir() / "wallet.key"
    if args.new_wallet:
        if args.wallet.exists():
            raise ConfigError(
                "wallet file exists already",
                path=str(args.wallet),
                hint="drop --new-wallet to log in with it",
            )
        _write_private(args.wallet, os.urandom(32).hex() + "\n")
    try:
        wallet = EthereumWallet(bytes.fromhex(args.wallet.read_text().strip()))
    except FileNotFoundError:
        raise ConfigError(
            "no wallet file",
            path=str(args.wallet),
            hint="pass --wallet FILE, or --new-wallet to create one",
        ) from None
    except ValueError:
        raise ConfigError(
            "the wallet file must hold a hex private key", path=str(args.wallet)
        ) from None
    session_file = _session_dir() / "session.json"
    previous = json.loads(session_file.read_text()) if session_file.exists() else {}
    kdf = KdfParams(**previous.get("kdf", {})) if previous.get("kdf") else KdfParams()
    passphrase = _passphrase(confirm=not previous)
    master = derive_master_key(
        wallet, passphrase, args.app, kdf=kdf, expected_check=previous.get("check")
    )
    session = seal_session(master, passphrase, app=args.app, address=wallet.address, kdf=kdf)
    _write_private(session_file, json.dumps(session, indent=2))
    print(f"logged in as {wallet.address}")
    print(f"  master key: {master.check_value}")
    print(f"  Me DAG name: {name_for(name_key(master, ME_NAME))}")
    return 0


def _session() -> MasterKey:
    path = _session_dir() / "session.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError("you are not logged in", hint="run: peerkit login") from None
    except ValueError:
        raise UsageError(
            f"{path} is not a session file", hint="run: peerkit login (it replaces it)"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a session file", hint="run: peerkit login")
    return open_session(data, _passphrase(confirm=False))


def cmd_keys_show(args: argparse.Namespace) -> int:
    master = _session()
    print(f"master key:  {master.check_value}")
    print(f"Me DAG name: {name_for(name_key(master, ME_NAME))}")
    for n in args.name:
        print(f"name {n!r}: {name_for(name_key(master, n))}")
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    return asyncio.run(_name(args))


async def _name(args: argparse.Namespace) -> int:
    from ..config import PeerConfig
    from ..log import configure_logging
    from ..node import Node

    configure_logging("warning")
    key = None
    ipns = args.name
    if not args.name.startswith("k51"):
        key = name_key(_session(), args.name)
        ipns = name_for(key)
    node = Node(PeerConfig(name="cli", log_level="warning"))
    await node.start()
    try:
        via = await node.connect(args.via)
        if args.action in ("publish", "revoke"):
            if key is None:
                raise UsageError("publish and revoke take one of your names, not k51...")
            if args.action == "publish":
                record = await node.naming.publish(key, args.value, push_to=[via])
            else:
                record = await node.naming.revoke(key, successor=args.successor, push_to=[via])
            _show(record)
        elif args.action == "resolve":
            found = await node.naming.resolve(ipns, at=args.at)
            if found is None:
                raise PeerkitError(f"{ipns} is not known to that peer or its peers")
            _show(found)
        elif args.action == "history":
            # the history the --via peer holds: this short-lived peer only ever sees the head
            for record in await node.naming.history(ipns, peer=via):
                _show(record)
        else:
            await node.naming.resolve(ipns)  # learn the newest from the peers first
            async for record in node.naming.watch(ipns, current=True):
                _show(record)
    finally:
        await node.stop()
    return 0


def _show(record: NameRecord) -> None:
    state = "REVOKED " if record.revoked else ""
    until = record.validity.astimezone(UTC).isoformat(timespec="seconds")
    succ = f" successor={record.successor}" if record.successor else ""
    print(
        f"{record.name}  seq={record.sequence}  {state}{record.value.decode()}"
        f"  valid-until={until}{succ}"
    )
