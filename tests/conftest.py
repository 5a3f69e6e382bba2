"""Keeps `pytest -m "not e2e"` honest: a test without the e2e mark may neither sleep on the real
clock nor start a process (trio's MockClock and in-process transports are the unit tests' way)."""

from __future__ import annotations

import subprocess
import time

import pytest


class RealWorldInUnitTest(AssertionError):
    """A test not marked e2e touched the real clock or started a process."""


@pytest.fixture(scope="session", autouse=True)
def _font_cache():
    """matplotlib builds its font cache on first use by running `fc-list`, a process: on a fresh
    machine (CI's) that is built here, once, before any test's guard is in place."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.font_manager  # noqa: F401 - builds the cache
    except ImportError:  # the plot extra is not installed: the plot tests skip
        pass


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(request, monkeypatch):
    if request.node.get_closest_marker("e2e") is not None:
        yield
        return

    def no_sleep(seconds):
        raise RealWorldInUnitTest(f"time.sleep({seconds}) in a test not marked e2e")

    def no_process(*args, **kwargs):
        raise RealWorldInUnitTest("a process started by a test not marked e2e")

    monkeypatch.setattr(time, "sleep", no_sleep)
    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    yield
