"""The JavaScript side of the interop tests: a folder's pinned npm packages, installed once into
a cache folder named by the manifest's hash (tests skip, saying why, without Node.js or the
npm registry)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest


def installed(source: Path, marker: str, scripts: list[str], timeout: float = 300) -> Path:
    """A cache folder with ``source``'s package.json installed (``node_modules/<marker>`` says
    it is) and its ``scripts`` copied beside it."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed")
    manifest = (source / "package.json").read_bytes()
    folder = Path.home() / ".cache" / "peerkit-interop" / hashlib.sha256(manifest).hexdigest()[:16]
    if not (folder / "node_modules" / marker).is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_bytes(manifest)
        try:
            proc = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--silent"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install took over {timeout:.0f} s (no registry?)")
        if proc.returncode != 0:
            pytest.skip(f"npm install failed (no registry?): {proc.stderr.strip()[:200]}")
    for script in scripts:
        shutil.copy(source / script, folder / script)
    return folder
