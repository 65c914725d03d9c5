"""py-libp2p is imported without the parts peerkit never enables, and nobody else is cheated of
them: each case runs in a fresh interpreter, since this one has imported libp2p already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_transport_leaves_the_unused_parts_unimported_and_the_real_ones_importable() -> None:
    out = run(
        """
        import json, sys
        import peerkit._transport.libp2p
        from peerkit._transport._lean_libp2p import UNUSED_PARTS
        left = sorted(
            n for n in sys.modules for part in UNUSED_PARTS
            if n == part or n.startswith(part + ".")
        )
        # an app's own service imports them later: the real packages and modules
        import requests, httpx
        from libp2p.kad_dht import kad_dht
        print(json.dumps({"left": left,
                          "files": [requests.__file__, httpx.__file__, kad_dht.__file__],
                          "client": httpx.Client.__module__,
                          "dht": kad_dht.KadDHT.__module__}))
        """
    )
    assert out["left"] == []
    assert all(f and "site-packages" in f for f in out["files"])  # a stand-in has no file
    assert out["client"].startswith("httpx")  # not peerkit._transport._lean_libp2p
    assert out["dht"] == "libp2p.kad_dht.kad_dht"


def test_a_stand_in_fails_loudly_when_called() -> None:
    out = run(
        """
        import json
        import peerkit._transport.libp2p
        from peerkit._transport._lean_libp2p import UnusedLibp2pPart
        import libp2p                 # its names for the unused parts are bound to stand-ins
        try:
            libp2p.QUICTransport(None)
            outcome = "called"
        except UnusedLibp2pPart as exc:
            outcome = str(exc)
        print(json.dumps({"outcome": outcome}))
        """
    )
    assert "QUIC" in out["outcome"] and "not loaded by peerkit" in out["outcome"]


def test_a_package_imported_before_is_used_as_it_is() -> None:
    out = run(
        """
        import json, sys
        import requests
        import peerkit._transport.libp2p
        from libp2p.security.tls.autotls import broker
        print(json.dumps({"same": broker.requests is requests}))
        """
    )
    assert out["same"] is True
