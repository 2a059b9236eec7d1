"""Errors that reach the user as one line: which file, what is wrong, what to do."""

from __future__ import annotations

from pathlib import Path


class SpacerError(Exception):
    """A failure the user can act on. ``str(err)`` is the one line we print."""

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


class BadInput(SpacerError):
    """A file or folder given to spacer is not what it should be."""


class ExternalFailure(SpacerError):
    """An external program ran and failed; its message is part of the line."""


def first_error_line(output: str, fallback: str = "no message") -> str:
    """The line of a tool's output that says what went wrong: the first that mentions
    an error, skipping gcc's "collect2: error: ld returned 1" summary."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    telling = [ln for ln in lines if not ln.startswith("collect2:")
               and any(w in ln.lower() for w in ("error", "undefined", "cannot"))]
    return (telling or lines or [fallback])[0]
