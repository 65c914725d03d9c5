"""The per-peer HTTP gateway (aiohttp), run inside the node's lifecycle."""

from .app import Gateway

__all__ = ["Gateway"]
