"""Try the CMS: ``python -m sample_app.cms`` (or ``make cms``) runs your own peer with the CMS
page, then says where to open it (a browser with an EIP-1193 wallet, such as MetaMask).

    python -m sample_app.cms                                   # you, on port 8765
    python -m sample_app.cms --name bob --port 8766 --join ADDR  # someone else, next to you

Each peer keeps its identity and blocks in .peerkit/cms/<name>/ (delete it to start afresh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from peerkit import Node, PeerkitError
from peerkit.config import load_config
from peerkit.log import configure_logging
from peerkit.node import import_actor


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_app.cms", description=__doc__)
    parser.add_argument("--name", default="me", help="this peer's name (default: me)")
    parser.add_argument("--port", type=int, default=8765, help="the page's port (default 8765)")
    parser.add_argument("--join", metavar="ADDR", help="another CMS peer to connect to")
    args = parser.parse_args()
    folder = Path(".peerkit") / "cms" / args.name
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "name": args.name,
        "identity": "identity.key",
        "log_level": "warning",
        "services": ["sample_app.services.cms:Cms"],
        "bootstrap": [args.join] if args.join else [],
        "gateway": {"enabled": True, "port": args.port, "pages": {"/cms": "sample_app.cms"}},
    }
    (folder / "peer.yaml").write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
    configure_logging("warning")
    try:
        return asyncio.run(run(folder / "peer.yaml"))
    except PeerkitError as exc:
        print(f"peerkit: error: {exc}")
        if exc.hint:
            print(f"hint: {exc.hint}")
        return 1


async def run(path: Path) -> int:
    config = load_config(path)
    node = Node(config)
    for spec in config.services:
        node.spawn(import_actor(spec, source=config.source))
    await node.start()
    print(f"Your CMS peer {node.config.name} is up: open {node.gateway_url}/cms/")
    print("  (in a browser with an Ethereum wallet extension: it signs you in)")
    print(
        "  others join with: python -m sample_app.cms --name NAME --port PORT"
        f" --join {node.addrs()[0]}"
    )
    print("Ctrl-C stops it.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await node.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
