"""multiaddr's DNS resolver, loaded with dnspython when it is first asked to resolve.

py-libp2p builds resolvers at start-up (its swarm has one, its bootstrap module another) and
uses one only to dial a ``/dns``, ``/dns4``, ``/dns6`` or ``/dnsaddr`` address, which most
peers never do. multiaddr's resolver module imports dnspython (66 modules, ~2.6 MB a peer kept)
and each resolver it builds reads ``/etc/resolv.conf``. This module is loaded under multiaddr's
name in its place (``_lean_libp2p.REPLACED_PARTS``): the same names, and a
:class:`DNSResolver` that builds multiaddr's own, loaded from multiaddr's file under another
module name, the first time it is used. A peer that dials a DNS address resolves it exactly
as before; one that never does never loads dnspython.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

from multiaddr import Multiaddr
from multiaddr.resolvers.base import Resolver

DNSADDR_TXT_PREFIX = "dnsaddr="
"""Prefix for dnsaddr TXT records (as multiaddr's)."""

#: the module name multiaddr's own resolver module is loaded under, on first use
LOADED_AS = "multiaddr.resolvers._dnspython"


def multiaddrs_resolver_module() -> types.ModuleType:
    """multiaddr's ``resolvers/dns.py`` (and dnspython with it), loaded once."""
    module = sys.modules.get(LOADED_AS)
    if module is not None:
        return module
    package = importlib.util.find_spec("multiaddr.resolvers")
    assert package is not None and package.submodule_search_locations
    path = Path(next(iter(package.submodule_search_locations))) / "dns.py"
    spec = importlib.util.spec_from_file_location(LOADED_AS, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[LOADED_AS] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[LOADED_AS]
        raise
    return module


class DNSResolver(Resolver):
    """multiaddr's ``DNSResolver``, built (dnspython loaded, the system's resolver
    configuration read) when first used; every other attribute (its limits, its helpers) is
    then that resolver's."""

    def __init__(self) -> None:
        self._loaded: Any = None

    def _resolver_now(self) -> Any:
        if self._loaded is None:
            self._loaded = multiaddrs_resolver_module().DNSResolver()
        return self._loaded

    async def resolve(
        self, maddr: Multiaddr, options: dict[str, Any] | None = None
    ) -> list[Multiaddr]:
        resolved: list[Multiaddr] = await self._resolver_now().resolve(maddr, options)
        return resolved

    def __getattr__(self, name: str) -> Any:
        # only called for what is not found here: multiaddr's other methods and attributes
        if name == "_loaded" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._resolver_now(), name)
