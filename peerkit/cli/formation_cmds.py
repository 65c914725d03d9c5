"""``peerkit up``, ``status``, ``down`` and ``formation export``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from ..formation.spec import load_formation


def _formation_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "formation",
        nargs="?",
        default="formation.yaml",
        type=Path,
        help="the formation (default: formation.yaml)",
    )


def add_commands(sub: Any) -> None:
    p = sub.add_parser("up", help="run every peer of a formation as its own process")
    _formation_arg(p)
    p.add_argument(
        "--for",
        dest="duration",
        type=float,
        metavar="SECONDS",
        help="stop by itself after this long (default: until Ctrl-C or peerkit down)",
    )
    p.add_argument("--quiet", action="store_true", help="do not stream the peers' logs")
    p.add_argument(
        "--json-logs",
        action="store_true",
        help="the peers' logs and the formation's news as JSON lines (for a log collector)",
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("status", help="the state of a running formation")
    _formation_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("down", help="stop a running formation")
    _formation_arg(p)
    p.set_defaults(func=cmd_down)

    f = sub.add_parser("formation", help="formation tools").add_subparsers(
        metavar="ACTION", dest="action", required=True
    )
    p = f.add_parser("export", help="Kubernetes manifests or a compose file for a formation")
    _formation_arg(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--k8s", type=Path, metavar="FILE", help="write Kubernetes manifests")
    group.add_argument("--compose", type=Path, metavar="FILE", help="write a compose file")
    p.add_argument(
        "--image",
        help="the container image to run (default: <formation name>:<peerkit version>,"
        " built from the app's Containerfile)",
    )
    p.add_argument("--namespace", default="default", help="Kubernetes namespace")
    p.set_defaults(func=cmd_export)


def cmd_up(args: argparse.Namespace) -> int:
    from ..formation.runner import FormationRunner

    spec = load_formation(args.formation)
    runner = FormationRunner(spec, show_logs=not args.quiet, json_logs=args.json_logs)
    return asyncio.run(runner.up(duration=args.duration))


def cmd_status(args: argparse.Namespace) -> int:
    from ..formation.runner import alive, read_state

    spec = load_formation(args.formation)
    state = read_state(spec)
    up = alive(state.get("up_pid"))
    if state["name"] != spec.name and not args.json:
        print(f"(formation.yaml now names {spec.name}; this is the formation running here)")
    statuses = {
        p["name"]: (_get_json(p["gateway"] + "/status") if up and alive(p["pid"]) else None)
        for p in state["peers"]
    }
    if args.json:
        print(
            json.dumps(
                {
                    "name": state["name"],
                    "up": up,
                    "dashboard": state.get("dashboard") if up else None,
                    "peers": [
                        {
                            "name": p["name"],
                            "role": p["role"],
                            "peer_id": p["peer_id"],
                            "pid": p["pid"],
                            "gateway": p["gateway"],
                            "restarts": p["restarts"],
                            "state": _state(statuses[p["name"]]),
                            "status": statuses[p["name"]],
                        }
                        for p in state["peers"]
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(
        f"formation {state['name']}: {'up' if up else 'down'}"
        + (f"  dashboard {state['dashboard']}" if up and state.get("dashboard") else "")
    )
    from .output import print_table, short_id

    rows = []
    for p in state["peers"]:
        status = statuses[p["name"]]
        st = _state(status)
        rows.append(
            (
                p["name"],
                p["role"],
                st,
                str(status["connections"]) if status else "-",
                str(status["messages_in"]) if status else "-",
                str(p["restarts"]),
                short_id(p["peer_id"]),
            )
        )
    print_table(["PEER", "ROLE", "STATE", "CONNS", "MSGS IN", "RESTARTS", "PEER ID"], rows)
    return 0


def _state(status: dict[str, Any] | None) -> str:
    return "ready" if status and status.get("ready") else ("down" if not status else "starting")


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except (OSError, ValueError):
        return None


def cmd_down(args: argparse.Namespace) -> int:
    from ..formation.runner import alive, read_state

    spec = load_formation(args.formation)
    state = read_state(spec)
    pid = state.get("up_pid")
    targets: list[int] = (
        [pid] if pid and alive(pid) else [p["pid"] for p in state["peers"] if alive(p["pid"])]
    )
    if not targets:
        print(f"formation {spec.name} is not running")
        return 0
    for t in targets:
        os.kill(t, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(alive(t) for t in targets) and time.monotonic() < deadline:
        time.sleep(0.1)
    print(f"formation {spec.name} stopped")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..formation.export import KEYS_DIR, build_hint, compose_file, k8s_manifests
    from ..private_files import write_private

    spec = load_formation(args.formation)
    target: Path = args.k8s or args.compose
    target.parent.mkdir(parents=True, exist_ok=True)
    keys = target.parent / KEYS_DIR
    image = args.image or f"{spec.name.lower()}:{__version__}"
    if args.k8s:
        # the manifests carry the identity keys in a Secret: owner-only, like any key file
        write_private(target, k8s_manifests(spec, image=image, keys=keys, namespace=args.namespace))
        print(f"wrote {target} (it holds the pods' keys: mode 0600, keep it out of git)")
        print(f"  apply it with: kubectl apply -f {target}")
    else:
        target.write_text(compose_file(spec, image=image, keys=keys))
        print(f"wrote {target}")
        print(
            f"  the identity keys are secrets in {keys} (0600, made once, reused by every export);"
        )
        print("  the peers run as uid 10001: on Linux, `sudo chown -R 10001 " + f"{keys}` first")
    print(f"  identities: {keys} (the same peer ids at every export; back it up)")
    print(f"  {build_hint(image)}")
    return 0
