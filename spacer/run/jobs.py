"""``-j N``: how many tasks run at a time (light: the command line imports it)."""

from __future__ import annotations

import argparse
import os


def jobs_arg(text: str) -> int:
    """``-j N``: a whole number, at least 1."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"not a number of tasks: {text!r} (try 1 or 2)")
    return jobs


def default_jobs() -> int:
    """The cores this process may run on: the default of ``-j``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
