"""Import structlog without rich and greenlet.

structlog picks its optional helpers at import time. With rich installed (peerkit's CLI draws
its tables with it), that is rich's traceback module with pygments behind it, for its console
renderer's exceptions: ~2.8 MB. With greenlet installed (apps on SQLAlchemy's asyncio have it),
its deprecated ``structlog.threadlocal`` binds a greenlet-local context: ~1 MB. Every peer kept
both and none used them: peerkit's console logs print plain tracebacks (:mod:`peerkit.log`;
rich's, as structlog sets them up, print every frame's local variables, and a peer's locals are
its keys, tokens and other peers' bytes) and its context is bound per logger, never through
``threadlocal``. So structlog's first import happens here, first thing in
``peerkit/__init__``, with those two hidden from it for the duration; they stay importable for
everyone else (the CLI's tables load rich when they draw).

If structlog was imported before peerkit (an app that uses it), it stays as it is, and so does a
helper imported before: there is nothing left to save.
"""

from __future__ import annotations

import sys

#: optional packages structlog would load at import and peerkit never has it use
HIDDEN_FROM_STRUCTLOG = ("rich", "greenlet")


def import_structlog() -> None:
    """Import structlog without :data:`HIDDEN_FROM_STRUCTLOG`, if this is its first import
    (hiding each one that nothing imported before)."""
    if "structlog" in sys.modules:
        return
    hidden = [name for name in HIDDEN_FROM_STRUCTLOG if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` fails, as uninstalled
    try:
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


import_structlog()
