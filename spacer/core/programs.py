"""External programs, run as the build ran them: argv lists, no shell, a time limit,
and a one-line failure that carries the tool's own first error line."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from spacer.core.errors import ExternalFailure, ToolMissing, first_error_line

# Longest a link or post-link step may take: generous (a big musl link takes seconds,
# a loaded machine minutes), but a hung tool must not hang spacer for ever.
TIMEOUT_S = 900.0


def program(argv0: str, cwd: str) -> str | None:
    """Where ``argv0`` runs from, as the build ran it: a name with a slash is a path
    from the recorded ``cwd`` (Unikraft runs ``support/scripts/...`` from its source
    tree), a bare name is looked up in PATH."""
    if "/" in argv0:
        path = Path(cwd, argv0)
        return str(path) if path.is_file() else None
    return shutil.which(argv0)


def run_argv(argv: list[str], cwd: str, what: str, log: Callable[[str], None] | None,
             timeout: float | None = None) -> None:
    """Run one command (no shell) in ``cwd``; ``what`` names the step ("the relink of
    hello"). :class:`ToolMissing` if the program is not there, :class:`ExternalFailure`
    with its first error line if it fails or runs longer than ``timeout`` seconds."""
    if log:
        log(" ".join(argv))
    if program(argv[0], cwd) is None:
        raise ToolMissing(f"{argv[0]} not found (needed for {what})",
                          Path(cwd, argv[0]) if "/" in argv[0] else None,
                          "install the toolchain the unikernel was built with")
    limit = TIMEOUT_S if timeout is None else timeout
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL, timeout=limit)
    except subprocess.TimeoutExpired:
        raise ExternalFailure(f"{what} did not finish within {limit:g} s ({argv[0]} was "
                              "stopped)", hint="is the machine overloaded, or the tool "
                              "waiting for input?") from None
    if proc.returncode != 0:
        raise ExternalFailure(f"{what} failed: {first_error_line(proc.stderr + proc.stdout)}")
