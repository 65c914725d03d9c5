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


def configure_logging(level: str = "info", *, json: bool = False, stream=None) -> None:
    stream = stream or sys.stderr
    renderer: structlog.typing.Processor
    if json:
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            bound_fields,
            structlog.processors.TimeStamper(fmt="%H:%M:%S.%f", utc=False),
            structlog.processors.format_exc_info if json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
