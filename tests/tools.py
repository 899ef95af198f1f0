"""Helpers for tests that need a tool from outside Python (a browser, a server, a CLI)."""

import os
from typing import NoReturn

import pytest


def required(variable: str) -> bool:
    """Whether `variable` is set to something other than empty, 0, false or no."""
    return os.environ.get(variable, "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail_without(reason: str, *, required_by: str = "CI") -> NoReturn:
    """A tool this test needs is missing: skip with `reason` on a developer's machine, but fail
    where the environment variable `required_by` is set (CI sets CI=true), so that a run which
    was meant to exercise the tool cannot go green by skipping it."""
    __tracebackhide__ = True  # report the caller's line, not this one
    if required(required_by):
        pytest.fail(f"{reason} ({required_by} is set, so a missing tool fails)", pytrace=False)
    pytest.skip(reason)
