"""``peerkit doc new|card|invite|edit|show|revoke --via ADDR``: drive a running peer's shared
documents (the peer must allow it: ``dcs: {remote_control: true}``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

#: the document argument of every doc command
DOC: dict[str, Any] = {"help": "the document's id (from `peerkit doc new`)"}


def add_commands(sub: Any) -> None:
    doc = sub.add_parser("doc", help="shared documents on a running peer").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    specs: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
        ("new", "create a document; prints its id", []),
        ("card", "print the peer's collaborator card (give it to whoever invites you)", []),
        (
            "invite",
            "invite the holder of CARD (JSON from `peerkit doc card`)",
            [("doc", DOC), ("card", {"help": "their card: JSON from `peerkit doc card`"})],
        ),
        (
            "edit",
            "insert TEXT at INDEX (or --delete N characters there)",
            [
                ("doc", DOC),
                ("index", {"type": int, "help": "where, in characters"}),
                ("text", {"nargs": "?", "default": "", "help": "the text to insert"}),
                ("--delete", {"type": int, "default": 0, "help": "characters to delete there"}),
            ],
        ),
        ("show", "print the document's text, epoch and members", [("doc", DOC)]),
        (
            "revoke",
            "remove MEMBER and refresh the keys",
            [("doc", DOC), ("member", {"help": "the member's id (from their card)"})],
        ),
    ]
    for action, helptext, args in specs:
        p = doc.add_parser(action, help=helptext)
        for name, kw in args:
            p.add_argument(name, **kw)
        p.add_argument("--via", required=True, metavar="MULTIADDR", help="the peer to drive")
        p.set_defaults(func=cmd_doc)


def cmd_doc(args: argparse.Namespace) -> int:
    return asyncio.run(_doc(args))


async def _doc(args: argparse.Namespace) -> int:
    from ..config import PeerConfig
    from ..dcs import messages as m
    from ..log import configure_logging
    from ..node import Node

    configure_logging("warning")
    node = Node(PeerConfig(name="cli", log_level="warning"))
    await node.start()
    try:
        peer = await node.connect(args.via)
        if args.action == "new":
            print((await node.request(peer, m.NewDoc())).doc)
        elif args.action == "card":
            card = await node.request(peer, m.GetCard())
            print(json.dumps({"id": card.id, "box": card.box}))
        elif args.action == "invite":
            card = json.loads(args.card)
            await node.request(
                peer, m.InviteMember(doc=args.doc, card=m.DocCard(**card)), timeout=30
            )
            print(f"invited {card['id'][:16]}...")
        elif args.action == "edit":
            await node.request(
                peer, m.EditDoc(doc=args.doc, index=args.index, text=args.text, delete=args.delete)
            )
        elif args.action == "show":
            shown = await node.request(peer, m.ShowDoc(doc=args.doc))
            print(shown.text)
            print(
                f"-- epoch {shown.epoch}, {len(shown.members)} members,"
                f" {len(shown.revoked)} revoked"
            )
        else:
            await node.request(peer, m.RevokeMember(doc=args.doc, member=args.member))
            print(f"revoked {args.member[:16]}...")
    finally:
        await node.stop()
    return 0
