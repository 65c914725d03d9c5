"""Every command and argument of the CLI has help text (what `peerkit X --help` shows)."""

import argparse

import pytest

from peerkit.cli.main import _parser


def walk(parser: argparse.ArgumentParser, path: str = "peerkit"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue  # an alias (g for generate): the same parser
                seen.add(id(sub))
                yield from walk(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_argument_has_help():
    missing = [
        f"{path} {action.dest}"
        for path, action in walk(_parser())
        if not isinstance(action, argparse._HelpAction | argparse._VersionAction)
        and not action.help
    ]
    assert not missing, f"arguments without help: {missing}"


def test_every_command_has_help():
    def commands(parser, path="peerkit"):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                seen = set()
                for name, sub in action.choices.items():
                    if id(sub) in seen:
                        continue  # an alias: helped under its full name
                    seen.add(id(sub))
                    yield f"{path} {name}", name in helped
                    yield from commands(sub, f"{path} {name}")

    missing = [path for path, helped in commands(_parser()) if not helped]
    assert not missing, f"commands without help: {missing}"


@pytest.mark.parametrize("absent", ["peerkit._cbor_floats", "peerkit._envelope_calls"])
def test_the_version_says_whether_the_c_helpers_were_built(monkeypatch, absent):
    import importlib.util

    from peerkit.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == absent else real(name, *a),
    )
    without = main._version()
    assert "without its C helpers" in without and "install a C compiler" in without
    assert main._C_HELPERS[absent] in without
    monkeypatch.setattr(importlib.util, "find_spec", real)
    all_built = all(real(name) is not None for name in main._C_HELPERS)
    assert main._version().endswith("(with its C helpers)") == all_built
