"""Which lab namespaces a test run may remove as left behind: never another live run's (a lab
being built has no process inside yet), always a dead run's."""

import os
import subprocess
import sys

from peerkit.testing.netlab import _PREFIX, _left_behind


def a_dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_a_live_runs_namespaces_are_not_left_behind():
    assert not _left_behind(f"{_PREFIX}{os.getpid()}-ab12cd-inet")
    assert not _left_behind(f"{_PREFIX}1-ab12cd-alice-gw")  # pid 1: alive, maybe not ours


def test_a_dead_runs_namespaces_are_left_behind():
    assert _left_behind(f"{_PREFIX}{a_dead_pid()}-ab12cd-alice")


def test_names_without_an_owner_are_judged_by_what_runs_inside():
    assert _left_behind(f"{_PREFIX}ab12cd-inet")  # the caller still checks for live processes
