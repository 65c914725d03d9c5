"""structlog set-up: events with the peer and actor bound, readable on a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from .bounds import MAX_LOG_FIELD, clip

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def bound_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Cut every long field (peers choose tags, names and error texts that end up in logs:
    a 1 MB tag must not become 1 MB of log twice)."""
    for key, value in event.items():
        if isinstance(value, str) and len(value) > MAX_LOG_FIELD:
            event[key] = clip(value, MAX_LOG_FIELD)
    return event


def processors(*, json: bool, colors: bool) -> list[Any]:
    """peerkit's processor chain: JSON lines with ISO-8601 UTC timestamps (for machines), or
    a terminal's local time of day (for people)."""
    renderer: structlog.typing.Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
        stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    else:
        # plain tracebacks: rich's (structlog's default when rich is there) print each frame's
        # locals, and a peer's are keys, tokens and peers' bytes (peerkit/_lean_structlog.py)
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )
        stamp = structlog.processors.TimeStamper(fmt="%H:%M:%S.%f", utc=False)
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        bound_fields,
        stamp,
        structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
        renderer,
    ]


def configure_logging(level: str = "info", *, json: bool = False, stream=None) -> None:
    """Set structlog up for a peerkit program (the CLI does; a library user may, or not)."""
    stream = stream or sys.stderr
    structlog.configure(
        processors=processors(json=json, colors=stream.isatty()),
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def node_logger(level: str, **bound: Any) -> Any:
    """A node's logger, filtered at the node's own level (``PeerConfig.log_level``).

    peerkit used as a library configures nothing process-wide: when the program has set
    structlog up (``configure_logging``, or its own configuration), the node logs through that;
    when it has not, the node writes to stderr on its own (never to stdout, never debug lines
    below its level), leaving structlog's global state alone."""
    wrapper = structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO))
    if structlog.is_configured():
        return structlog.wrap_logger(None, wrapper_class=wrapper, **bound)
    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=processors(json=False, colors=sys.stderr.isatty()),
        wrapper_class=wrapper,
        **bound,
    )
