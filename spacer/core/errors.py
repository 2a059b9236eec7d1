"""Errors that reach the user as one line: which file, what is wrong, what to do."""

from __future__ import annotations

import traceback
from pathlib import Path

# One exit status per kind of error, whether an up-front check or a task finds it.
BAD_INPUT = 2  # a file, folder or option given to spacer is wrong (argparse uses 2 too)
EXTERNAL = 3  # an external program (gcc, ld, QEMU, setpriv) is missing or failed
INTERNAL = 4  # a bug in spacer: an exception that is not a SpacerError
INTERRUPTED = 130  # Ctrl-C, SIGTERM or SIGHUP


class SpacerError(Exception):
    """A failure the user can act on. ``str(err)`` is the one line we print."""

    exit_code = BAD_INPUT

    def __init__(self, what: str, path: str | Path | None = None, hint: str | None = None):
        self.path = Path(path) if path is not None else None
        self.what = what
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}: ")
        parts.append(self.what)
        if self.hint:
            parts.append(f" ({self.hint})")
        return "".join(parts).replace("\n", " ")


class ToolMissing(SpacerError):
    """An external program (QEMU, gcc, ld) is not installed."""

    exit_code = EXTERNAL


class BadInput(SpacerError):
    """A file or folder given to spacer is not what it should be."""


class ExternalFailure(SpacerError):
    """An external program ran and failed; its message is part of the line."""

    exit_code = EXTERNAL


def exit_code(exc: BaseException) -> int:
    """The exit status for ``exc``: its kind's for a SpacerError, else INTERNAL."""
    return exc.exit_code if isinstance(exc, SpacerError) else INTERNAL


def internal_error_line(exc: BaseException) -> str:
    """One line for an unexpected exception: what it was and where it was raised
    (the innermost frame in spacer's own code, else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    root = Path(__file__).resolve().parents[1]
    own = [f for f in frames if Path(f.filename).resolve().is_relative_to(root)]
    where = ""
    if own or frames:
        f = (own or frames)[-1]
        name = Path(f.filename)
        shown = name.resolve().relative_to(root.parent) if own else name
        where = f" in {f.name} ({shown}:{f.lineno})"
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return (f"internal error{where}: {what} (a bug in spacer; rerun with -v for the "
            f"traceback)").replace("\n", " ")


# Words of a line that says why a tool failed (gcc, ld, objcopy, QEMU).
_CAUSE_WORDS = ("error", "undefined", "cannot", "overlaps", "truncated", "multiple definition",
                "no such file", "not found", "fatal", "invalid", "unrecognized")


def _is_context(line: str) -> bool:
    """A line that only says where the next one happened (ld's "in function 'f':")."""
    low = line.lower()
    return line.endswith(":") and ("in function" in low or low.startswith("in file included")
                                   or ": in " in low)


def first_error_line(output: str, fallback: str = "no message") -> str:
    """The line of a tool's output that says what went wrong, with the line before it
    when that only says where (ld's "in function 'f':"), and how many more causes
    like it followed. gcc's "collect2: error: ld returned 1" summary is never the
    cause; without a telling line, the first that is not a warning (ld says "section
    .bss VMA ... overlaps" plainly)."""
    every = [ln.strip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in every if not ln.startswith("collect2:")]
    causes = [i for i, ln in enumerate(lines) if not _is_context(ln)
              and any(w in ln.lower() for w in _CAUSE_WORDS)]
    if causes:
        first = causes[0]
        line = lines[first]
        if first > 0 and _is_context(lines[first - 1]):
            line = f"{lines[first - 1]} {line}"
        more = len(causes) - 1
        return line + (f" (and {more} more like it)" if more else "")
    plain = [ln for ln in lines if "warning:" not in ln.lower()]
    return (plain or every or [fallback])[0]
