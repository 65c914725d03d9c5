"""peerkit: peer-to-peer application nodes in Python.

The public API is re-exported here; modules starting with ``_`` are private.
"""

# first: structlog's first import, without rich and greenlet (peerkit/_lean_structlog.py)
from . import _lean_structlog  # noqa: F401  # isort: skip

from .actor import Actor, ActorRef, Context, Later, handler
from .config import PeerConfig, load_config
from .errors import (
    ActorStopped,
    ConfigError,
    DialFailed,
    FrameTooLarge,
    HandlerFailed,
    MailboxFull,
    MalformedMessage,
    NoHandler,
    NotImplementedHandler,
    PeerBusy,
    PeerDisconnected,
    PeerkitError,
    RemoteError,
    RequestTimeout,
    SupervisorEscalation,
    UnknownMessageType,
    UserOnly,
    ValidationFailed,
)
from .messages import Event, Message, Request
from .node import Node
from .router import Ack
from .service import Service
from .supervisor import Strategy, Supervisor

__all__ = [
    "Ack",
    "Actor",
    "ActorRef",
    "ActorStopped",
    "ConfigError",
    "Context",
    "DialFailed",
    "Event",
    "FrameTooLarge",
    "HandlerFailed",
    "Later",
    "MailboxFull",
    "MalformedMessage",
    "Message",
    "NamingClient",
    "NoHandler",
    "Node",
    "NotImplementedHandler",
    "PeerBusy",
    "PeerConfig",
    "PeerDisconnected",
    "PeerkitError",
    "RemoteError",
    "Request",
    "RequestTimeout",
    "Service",
    "StorageClient",
    "Strategy",
    "Supervisor",
    "SupervisorEscalation",
    "UnknownMessageType",
    "UserOnly",
    "ValidationFailed",
    "handler",
    "load_config",
]

__version__ = "0.1.0"

#: the families' clients, importable from peerkit (a service asks for them by name in its
#: __init__); imported on first use, so that `import peerkit` stays light
_LAZY = {
    "StorageClient": "peerkit.storage.client",
    "NamingClient": "peerkit.naming.client",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'peerkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
