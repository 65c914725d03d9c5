"""peerkit: peer-to-peer application nodes in Python.

The public API is re-exported here; modules starting with ``_`` are private.
"""

from .actor import Actor, ActorRef, Context, handler
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
    "MailboxFull",
    "MalformedMessage",
    "Message",
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
