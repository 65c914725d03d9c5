"""The one error tree of peerkit.

Everything peerkit raises derives from :class:`PeerkitError`. Errors that can cross the wire in
an error reply carry a stable ``code``; :func:`error_from_code` turns a code back into the same
class on the asking peer, so ``except PeerBusy:`` works whether the busy peer is local or remote.

Errors are translated in three places only: the transport (libp2p/trio -> peerkit), the gateway
(peerkit -> HTTP) and the CLI (peerkit -> message and exit code).
"""

from __future__ import annotations

from typing import ClassVar


class PeerkitError(Exception):
    """Root of every error peerkit raises.

    ``hint`` is an optional sentence telling a person what to do about it; the CLI prints it.
    """

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# --- configuration --------------------------------------------------------------------------


class ConfigError(PeerkitError):
    """A configuration file is missing, unreadable or invalid. Names the file and line."""

    code = "config"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line


class IdentityError(PeerkitError):
    """The peer's identity key file is unreadable, malformed or too widely readable."""

    code = "identity"


# --- wire -----------------------------------------------------------------------------------


class WireError(PeerkitError):
    """A frame or envelope could not be read. The stream it came on is reset; the peer goes on."""

    code = "wire"


class FrameTooLarge(WireError):
    code = "frame_too_large"


class FrameTruncated(WireError):
    code = "frame_truncated"


class MalformedMessage(WireError):
    code = "malformed"


# --- errors that cross the wire in a reply ---------------------------------------------------


class RemoteError(PeerkitError):
    """A request failed; raised on the asking side. ``peer`` names who answered, if remote."""

    code = "remote"

    def __init__(self, message: str, *, peer: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.peer = peer


class UnknownMessageType(RemoteError):
    code = "unknown_type"


class ValidationFailed(RemoteError):
    code = "invalid"


class NoHandler(RemoteError):
    code = "no_handler"


class HandlerFailed(RemoteError):
    """The handler raised. The supervisor has already logged and restarted it."""

    code = "handler_error"


class PeerBusy(RemoteError):
    """The receiving actor's mailbox is full. Retry later, or slow down."""

    code = "busy"


class RequestTimeout(RemoteError):
    code = "timeout"


class RequestCancelled(RemoteError):
    code = "cancelled"


class NotImplementedHandler(RemoteError):
    """A generated handler stub that nobody has written yet."""

    code = "not_implemented"


# --- actors ---------------------------------------------------------------------------------


class ActorError(PeerkitError):
    code = "actor"


class MailboxFull(ActorError, PeerBusy):
    """``tell_nowait`` found the mailbox full. ``await tell`` waits for room instead."""

    code = "busy"


class ActorStopped(ActorError, RemoteError):
    """The actor stopped (its peer is shutting down, or its supervisor gave up) before answering."""

    code = "stopped"


class SupervisorEscalation(ActorError):
    """A supervisor hit its restart limit and gave up; its parent decides what happens next."""

    code = "escalated"


# --- transport ------------------------------------------------------------------------------


class TransportError(PeerkitError):
    code = "transport"


class DialFailed(TransportError):
    code = "dial_failed"


class PeerDisconnected(TransportError, RemoteError):
    """The peer went away while a request to it was in flight (or before it was sent)."""

    code = "disconnected"


class TransportClosed(TransportError):
    code = "closed"


# Codes an error reply may carry, and the class each becomes on the asking side.
_WIRE_ERRORS: dict[str, type[RemoteError]] = {
    cls.code: cls
    for cls in (
        UnknownMessageType,
        ValidationFailed,
        NoHandler,
        HandlerFailed,
        PeerBusy,
        RequestTimeout,
        RequestCancelled,
        PeerDisconnected,
        ActorStopped,
        NotImplementedHandler,
    )
}


def register_wire_error(cls: type[RemoteError]) -> type[RemoteError]:
    """Let an app's own error class cross the wire typed (use as a class decorator).

    Its ``code`` must be unique; the asking peer then raises the same class.
    """
    existing = _WIRE_ERRORS.get(cls.code)
    if existing is not None and existing is not cls:
        raise ValueError(f"error code {cls.code!r} is already used by {existing.__name__}")
    _WIRE_ERRORS[cls.code] = cls
    return cls


def error_from_code(code: str, message: str, *, peer: str | None = None) -> RemoteError:
    """The typed error for a code received in an error reply (unknown codes stay generic)."""
    cls = _WIRE_ERRORS.get(code, RemoteError)
    return cls(message, peer=peer)


def wire_code(exc: BaseException) -> str:
    """The code to send for ``exc`` in an error reply."""
    if isinstance(exc, PeerkitError) and exc.code in _WIRE_ERRORS:
        return exc.code
    return HandlerFailed.code
