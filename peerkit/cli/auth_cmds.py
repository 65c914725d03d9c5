"""``peerkit auth delegate|inspect|revoke``: Multiauth tokens from the command line.

Tokens are printed as multibase base64url text (``u...``) so they can be pasted; a file
holding that text (or the raw bytes) works wherever a token is expected.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, PeerkitError, Refused, UsageError

_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def add_commands(sub: Any) -> None:
    auth = sub.add_parser(
        "auth",
        help="Multiauth: delegate, inspect and revoke capabilities (docs/auth.md)",
        description="Signed delegations that let a peer act for a key holder.",
    )
    kinds = auth.add_subparsers(title="actions", metavar="ACTION")

    d = kinds.add_parser("delegate", help="issue a delegation")
    _signer_args(d)
    d.add_argument("--to", required=True, help="the audience: a DID or a peer id")
    d.add_argument("--can", required=True, help="the ability, e.g. name/republish")
    d.add_argument("--on", required=True, help="the resource, e.g. name:k51... or name:*")
    d.add_argument("--for", dest="ttl", default="1h", help="lifetime: 3600, 90m, 12h, 30d")
    d.add_argument("--proof", action="append", default=[], help="a parent delegation")
    d.add_argument("-o", "--output", type=Path, help="write the token here (default: stdout)")
    d.set_defaults(func=cmd_delegate)

    i = kinds.add_parser("inspect", help="show a token (or an authorization container)")
    i.add_argument("token", help="token text (u...), or a file holding it")
    i.add_argument("--json", action="store_true", help="print it as JSON")
    i.add_argument("--via", help="also ask this running peer whether the token is revoked")
    i.set_defaults(func=cmd_inspect)

    h = kinds.add_parser(
        "hold", help="hand a running peer a delegation addressed to it (it acts on it)"
    )
    h.add_argument("token", help="the delegation")
    h.add_argument("--proof", action="append", default=[], help="a delegation above it")
    h.add_argument("--via", required=True, help="multiaddr of that peer (…/p2p/<id>)")
    h.set_defaults(func=cmd_hold)

    r = kinds.add_parser("revoke", help="revoke a delegation you issued, through a running peer")
    _signer_args(r)
    r.add_argument("token", help="the delegation to revoke")
    r.add_argument("--via", required=True, help="multiaddr of a running peer (…/p2p/<id>)")
    r.set_defaults(func=cmd_revoke)
    auth.set_defaults(func=lambda args: auth.print_help() or 2)


def _signer_args(p: Any) -> None:
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--wallet", type=Path, help="sign with a wallet file (hex secp256k1 key)")
    who.add_argument("--key", type=Path, help="sign with a peer's identity key file")
    who.add_argument("--name", help="sign with one of your names' keys (after peerkit login)")


def _signer(args: argparse.Namespace) -> Any:
    from ..auth.principals import Ed25519Signer, WalletSigner

    if args.wallet:
        from ..naming.keys import EthereumWallet

        try:
            return WalletSigner(EthereumWallet(bytes.fromhex(args.wallet.read_text().strip())))
        except FileNotFoundError:
            raise ConfigError("no wallet file", path=str(args.wallet)) from None
        except ValueError:
            raise ConfigError("not a hex private key", path=str(args.wallet)) from None
    if args.key:
        from ..identity import load_or_create_identity

        if not args.key.exists():
            raise ConfigError("no key file", path=str(args.key), hint="a peer's identity.key")
        return Ed25519Signer.from_seed(load_or_create_identity(args.key))
    from ..naming.keys import name_key
    from .naming_cmds import _session

    return Ed25519Signer(name_key(_session(), args.name))


def to_text(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).decode().rstrip("=")


def read_token(arg: str) -> bytes:
    path = Path(arg)
    if len(arg) < 4096 and path.is_file():
        raw = path.read_bytes()
        text = raw.decode("ascii", errors="replace").strip()
        if not text.startswith("u"):
            return raw
        arg = text
    if not arg.startswith("u"):
        raise UsageError(
            "a token is multibase base64url text starting with 'u', or a file holding it",
            hint="peerkit auth delegate prints one",
        )
    body = arg[1:]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise UsageError("the token text is not valid base64url") from None


def _duration(text: str) -> int:
    m = _DURATION.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a duration", hint="e.g. 3600, 90m, 12h, 30d")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _audience(text: str) -> str:
    from ..auth.principals import check_did, did_for_peer

    if text.startswith("did:"):
        return check_did(text)
    did = did_for_peer(text)
    if did is None:
        raise UsageError(f"{text!r} is neither a DID nor an Ed25519 peer id")
    return did


def cmd_delegate(args: argparse.Namespace) -> int:
    from ..auth.tokens import DELEGATION, Capability, delegate, parse

    proofs = [parse(read_token(p), expect=DELEGATION) for p in args.proof]
    token = delegate(
        _signer(args),
        audience=_audience(args.to),
        caps=[Capability(args.on, args.can)],
        expires_in=_duration(args.ttl),
        proofs=proofs,
    )
    text = to_text(token.to_bytes())
    if args.output:
        args.output.write_text(text + "\n")
        print(f"wrote {args.output} ({token.cid})", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..auth.guard import unpack
    from ..auth.tokens import parse

    data = read_token(args.token)
    try:
        tokens = [parse(data)]
    except PeerkitError as first:
        try:
            tokens = unpack(data)  # an authorization container: invocation + chain
        except PeerkitError:
            raise first from None
    views = [_view(t) for t in tokens]
    if args.via:
        revoked = set(asyncio.run(_revoked_on(args.via, [t.cid for t in tokens])))
        for token, view in zip(tokens, views, strict=True):
            view["revoked"] = "yes" if token.cid in revoked else "no (on that peer)"
    if args.json:
        print(json.dumps(views if len(views) > 1 else views[0], indent=2))
        return 0
    for view in views:
        for key, value in view.items():
            print(f"{key:<10} {value}")
        print()
    return 0


def _view(token: Any) -> dict[str, Any]:
    from ..auth.chain import check_signature

    view = token.describe()
    try:
        check_signature(token)
        view["signature"] = f"valid ({token.alg})"
    except PeerkitError as exc:
        view["signature"] = f"INVALID: {exc}"
    for key in ("nbf", "exp", "iat"):
        if key in view:
            when = datetime.fromtimestamp(view[key], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            view[key] = f"{view[key]} ({when})"
    if "caps" in view:
        view["caps"] = ", ".join(f"{c['can']} on {c['with']}" for c in view["caps"])
    return view


async def _revoked_on(via_addr: str, cids: list[str]) -> list[str]:
    from ..auth.messages import CheckRevoked

    async with _client() as node:
        via = await node.connect(via_addr)
        status = await node.request(via, CheckRevoked(cids=cids))
    return list(status.revoked)


def _client() -> Any:
    from ..config import PeerConfig, StorageConfig
    from ..log import configure_logging
    from ..node import Node

    configure_logging("warning")
    config = PeerConfig(name="cli", log_level="warning", storage=StorageConfig(enabled=False))
    return Node(config)


def cmd_hold(args: argparse.Namespace) -> int:
    return asyncio.run(_hold(args))


async def _hold(args: argparse.Namespace) -> int:
    from ..auth.messages import Hold
    from ..auth.tokens import DELEGATION, parse

    tokens = [parse(read_token(t), expect=DELEGATION) for t in [args.token, *args.proof]]
    async with _client() as node:
        via = await node.connect(args.via)
        held = await node.request(via, Hold(tokens=[t.to_bytes() for t in tokens]))
    print(f"{via} holds {tokens[0].cid} ({held.delegations} delegations in all)")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    return asyncio.run(_revoke(args))


async def _revoke(args: argparse.Namespace) -> int:
    from ..auth.messages import Revoke
    from ..auth.tokens import DELEGATION, parse, revoke

    delegation = parse(read_token(args.token), expect=DELEGATION)
    signer = _signer(args)
    if signer.did != delegation.iss:
        raise Refused(
            f"only the issuer ({delegation.iss}) can revoke this delegation, not {signer.did}"
        )
    revocation = revoke(signer, delegation)
    async with _client() as node:
        via = await node.connect(args.via)
        await node.request(
            via, Revoke(revocation=revocation.to_bytes(), delegation=delegation.to_bytes())
        )
    print(f"revoked {delegation.cid} on {via} (it spreads to that peer's peers)")
    return 0
