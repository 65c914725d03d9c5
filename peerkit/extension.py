"""Families as extensions: each built-in family (and any app's) is one object with a name, the
extensions it needs, whether the config enables it, and an install step.

    class StorageExtension(Extension):
        name = "storage"
        def enabled(self, config): return config.storage.enabled
        def install(self, node): ...spawn actors, keep the family's state on self...
        def client(self, node): return StorageClient(node)

``Node`` installs the enabled extensions of :data:`BUILTIN` in that order (a need must come
earlier) and is left with composition and lifecycle: it holds no family state. The family's
state lives on its extension (``node.extension(StorageExtension).store``); ``node.storage`` and a
service's ``storage`` parameter are its client. A new family is one folder with an
``extension.py`` plus one line in :data:`BUILTIN`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import PeerConfig
    from .node import Node

#: the built-in families, in install order (actors start in this order and stop in reverse)
BUILTIN: tuple[str, ...] = (
    "peerkit.auth.extension:AuthExtension",
    "peerkit.routing.extension:RoutingExtension",
    "peerkit.storage.extension:StorageExtension",
    "peerkit.naming.extension:NamingExtension",
    "peerkit.rendezvous.extension:RendezvousExtension",
    "peerkit.dcs.extension:DcsExtension",
)


class Extension:
    #: the family's name: ``node.<name>`` and the service parameter of that name are its client
    name: ClassVar[str]
    #: extensions that must be installed before this one: the only families this one's
    #: modules may import (import-linter holds every family to it; see pyproject.toml)
    needs: ClassVar[tuple[str, ...]] = ()
    #: extensions this one uses when they are installed (before it), and does without when
    #: they are not: its modules may import them too
    uses: ClassVar[tuple[str, ...]] = ()

    def enabled(self, config: PeerConfig) -> bool:
        return True

    def install(self, node: Node) -> None:
        """Spawn the family's actors and build its state (kept on ``self``). No I/O: the node
        is being constructed; open files and connections in :meth:`start`."""

    async def start(self, node: Node) -> None:
        """Open what the family needs (files, databases) before its actors start."""

    async def stop(self, node: Node) -> None:
        """Close what :meth:`start` opened, after the family's actors have stopped."""

    def client(self, node: Node) -> Any:
        """What ``node.<name>`` returns (the family's API for app code and services)."""
        raise NotImplementedError(f"the {self.name} extension has no client")


def load(spec: str) -> type[Extension]:
    module, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Extension)):
        raise ConfigError(f"{spec} is not a peerkit Extension")
    return cls


def extension_names(specs: tuple[str, ...] = BUILTIN) -> list[str]:
    """The names of the built-in families (what services may ask for by parameter name)."""
    return [load(spec).name for spec in specs]


def installable(specs: tuple[str, ...], config: PeerConfig) -> list[Extension]:
    """The enabled extensions in install order; ConfigError when one needs a missing one."""
    chosen: list[Extension] = []
    names: set[str] = set()
    for spec in specs:
        ext = load(spec)()
        if not ext.enabled(config):
            continue
        missing = [n for n in ext.needs if n not in names]
        if missing:
            raise ConfigError(
                f"the {ext.name} extension needs {', '.join(missing)}, which is not enabled",
                path=config.source,
            )
        chosen.append(ext)
        names.add(ext.name)
    return chosen
