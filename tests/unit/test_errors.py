"""One error registry: every PeerkitError has a code of its own and comes back as its class."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import peerkit
from peerkit.errors import (
    HandlerFailed,
    MailboxFull,
    PeerBusy,
    PeerkitError,
    RemoteError,
    error_classes,
    error_from_code,
    wire_code,
)


def _all_modules() -> None:
    for info in pkgutil.walk_packages(peerkit.__path__, "peerkit."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _subclasses(sub)
    return out


def test_every_error_class_has_its_own_code_and_round_trips():
    _all_modules()
    registry = error_classes()
    for cls in _subclasses(PeerkitError):
        if cls.__module__.startswith("tests."):
            continue
        owner = registry.get(cls.code)
        assert owner is not None, f"{cls.__qualname__}: code {cls.code!r} is not registered"
        if owner is not cls:
            # only a refinement may answer with its parent's code
            assert issubclass(cls, owner), f"{cls.__qualname__} shares {cls.code!r}"
            continue
        err = error_from_code(cls.code, "what went wrong", peer="12D3KooWpeer")
        assert type(err) is cls, cls
        assert str(err) == "what went wrong" and err.peer == "12D3KooWpeer"
        assert err.hint is None
        assert wire_code(err) == cls.code


def test_a_code_cannot_be_claimed_twice():
    with pytest.raises(TypeError, match="is taken by"):

        class Mine(PeerkitError):
            code = "busy"


def test_codes_from_outside_the_tree():
    assert type(error_from_code("no-such-code", "x")) is RemoteError
    assert wire_code(ValueError("x")) == HandlerFailed.code
    assert wire_code(MailboxFull("full")) == PeerBusy.code == "busy"


def test_one_table_each_for_http_statuses_and_exit_codes():
    from peerkit.auth.errors import AuthMissing, NotGranted, TokenMalformed
    from peerkit.cli.main import EXIT_FAILED, EXIT_REFUSED, EXIT_USAGE, exit_code
    from peerkit.errors import ConfigError, DialFailed, RequestTimeout, UsageError
    from peerkit.gateway.app import http_status
    from peerkit.naming.keys import KeyDrift
    from peerkit.storage.errors import BlockNotFound, StorageError

    cases = [
        (AuthMissing("x"), 401, EXIT_REFUSED),
        (NotGranted("x"), 403, EXIT_REFUSED),
        (TokenMalformed("x"), 403, EXIT_USAGE),
        (KeyDrift("x"), 500, EXIT_REFUSED),
        (BlockNotFound("x"), 404, EXIT_FAILED),
        (PeerBusy("x"), 503, EXIT_FAILED),
        (RequestTimeout("x"), 504, EXIT_FAILED),
        (DialFailed("x"), 502, EXIT_FAILED),
        (ConfigError("x"), 400, EXIT_USAGE),
        (UsageError("x"), 400, EXIT_USAGE),
        (StorageError("x"), 500, EXIT_FAILED),
    ]
    for exc, status, code in cases:
        assert (http_status(exc), exit_code(exc)) == (status, code), type(exc).__name__
