"""``peerkit new APP``: scaffold an app whose tests pass at once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "new",
        help="create a new peerkit app",
        description="Create a new peerkit app. See `peerkit new --usage`.",
    )
    p.add_argument(
        "app", nargs="?", help="the app's name, e.g. my-app (its Python package: my_app)"
    )
    p.add_argument("--dir", type=Path, help="where to create it (default: ./APP)")
    p.add_argument("--force", action="store_true", help="write into an existing folder")
    p.add_argument(
        "--no-sample",
        dest="sample",
        action="store_false",
        help="leave out the sample greeter service",
    )
    p.add_argument("--usage", action="store_true", help="what the generator creates")
    p.set_defaults(func=cmd_new)


def cmd_new(args: argparse.Namespace) -> int:
    from peerkit._generators.app.generator import plan_app, usage, write_app

    if args.usage or not args.app:
        print(usage())
        return 0 if args.usage else 2
    target = args.dir or Path(args.app)
    written = write_app(target, plan_app(args.app, sample=args.sample), force=args.force)
    print(f"created {args.app} in {target}/:")
    for path in written:
        print(f"  {path}")
    print()
    print("next:")
    print(f"  cd {target}")
    print("  python -m pip install -e '.[dev]'")
    print("  python -m pytest")
    print("  peerkit up")
    return 0
