"""The one error tree of peerkit.

Everything peerkit raises derives from :class:`PeerkitError`, and every class in the tree has a
stable ``code`` of its own, registered when the class is defined (two classes claiming one code
is an error at import; a subclass may keep its parent's code, as ``MailboxFull`` keeps
``busy``). An error reply carries the code; :func:`error_from_code` turns it back into the same
class on the asking peer, so ``except BlockNotFound:`` works whether the block was missing here
or on the peer that was asked. Errors from outside the tree travel as ``handler_error``.

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
    #: the peer that answered with this error, when it came over the wire
    peer: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if code is None:
            return  # keeps its parent's code, and does not take it over
        owner = _BY_CODE.get(code)
        if owner is not None and owner.__qualname__ != cls.__qualname__:
            if issubclass(cls, owner):
                return  # a refinement that answers with its parent's code (MailboxFull: busy)
            raise TypeError(
                f"error code {code!r} of {cls.__qualname__} is taken by {owner.__qualname__}"
            )
        _BY_CODE[code] = cls


#: every error class by its code (filled as classes are defined; see __init_subclass__)
_BY_CODE: dict[str, type[PeerkitError]] = {"error": PeerkitError}


class UsageError(PeerkitError):
    """A command or call was given something it cannot use: fix the arguments and try again."""

    code = "usage"


class Refused(PeerkitError):
    """A check said no (who may do what): trying again the same way will not help."""

    code = "refused"


class FamilyDisabled(PeerkitError):
    """A family (storage, naming, ...) was asked for on a peer whose config does not enable it."""

    code = "family_disabled"


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

    path: str | None = None
    line: int | None = None


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


class UserOnly(RemoteError, Refused):
    """A request type this peer serves to its own user only (``handler(peers=False)``)."""

    code = "user_only"


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


class InvalidPeerId(PeerDisconnected, UsageError):
    """A string given as a peer id that is not one: the caller's mistake (a usage error), and,
    for code that handles unreachable peers, a peer it cannot reach."""

    code = "invalid_peer_id"


class TransportClosed(TransportError):
    code = "closed"


def register_wire_error(cls: type[PeerkitError]) -> type[PeerkitError]:
    """Kept for apps written against older peerkit: every PeerkitError subclass with a ``code``
    of its own is registered when it is defined, so this only checks that it was."""
    if _BY_CODE.get(cls.code) is not cls:
        raise ValueError(f"error code {cls.code!r} is not {cls.__name__}'s own")
    return cls


def error_classes() -> dict[str, type[PeerkitError]]:
    """Every registered code and its class (for conformance tests and docs)."""
    return dict(_BY_CODE)


def error_from_code(code: str, message: str, *, peer: str | None = None) -> PeerkitError:
    """The typed error for a code received in an error reply (unknown codes: RemoteError).

    The class is rebuilt without its ``__init__`` (constructors differ: ConfigError takes a path,
    RemoteError a peer); the message, the answering peer and no hint are set on it.
    """
    cls = _BY_CODE.get(code)
    if cls is None or cls is PeerkitError:
        return RemoteError(message, peer=peer)
    exc = cls.__new__(cls)
    PeerkitError.__init__(exc, message)
    exc.peer = peer
    return exc


def wire_code(exc: BaseException) -> str:
    """The code to send for ``exc`` in an error reply."""
    if isinstance(exc, PeerkitError):
        return exc.code
    return HandlerFailed.code
