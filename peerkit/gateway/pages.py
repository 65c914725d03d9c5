"""Web pages a peer serves (``gateway.pages``): an app's static HTML, JavaScript and CSS, so the
page and the API it calls come from the user's own peer (local first, no build step)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

from ..config import PeerConfig
from ..errors import ConfigError


def page_folder(where: str, config: PeerConfig) -> Path:
    """A folder (relative to peer.yaml) or an importable package's folder."""
    base = Path(config.source).resolve().parent if config.source else Path.cwd()
    if "/" in where or where.startswith("."):
        folder = (base / where).resolve()
    else:
        try:
            spec = importlib.util.find_spec(where)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"gateway.pages: {where!r} is neither a folder nor an importable package",
                path=config.source,
                hint="give a folder relative to peer.yaml (./site) or a package (my_app.web)",
            )
        folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / "index.html").is_file():
        raise ConfigError(f"gateway.pages: {folder} has no index.html", path=config.source)
    return folder


def add_pages(app: web.Application, config: PeerConfig) -> None:
    for prefix, where in config.gateway.pages.items():
        folder = page_folder(where, config)
        prefix = "/" + prefix.strip("/")
        index = folder / "index.html"

        async def index_page(request: web.Request, index: Path = index) -> web.FileResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        async def redirect(request: web.Request, prefix: str = prefix) -> web.Response:
            raise web.HTTPMovedPermanently(location=prefix + "/")

        app.router.add_get(prefix, redirect)
        app.router.add_get(prefix + "/", index_page)
        app.router.add_static(prefix + "/", folder, show_index=False, follow_symlinks=False)
