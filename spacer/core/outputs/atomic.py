"""Writing outputs so that an interrupted run never leaves a file that looks finished."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes, only_if_changed: bool = False) -> bool:
    """Write to a temporary file beside ``path``, then rename it over ``path``; with
    ``only_if_changed`` a file that already holds ``data`` is left alone (its mtime
    too). True if written.

    The file gets the mode an ordinary ``open()`` would give it (0666 less the umask,
    so usually 0644), not the 0600 of a temporary file.
    """
    path = Path(path)
    if only_if_changed and path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # ".<name>.<random>.tmp": a run killed here leaves it; the next run removes it
    # (spacer.core.outputs.outdir.remove_leftovers).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, data: object, only_if_changed: bool = False) -> bool:
    """Write ``data`` as JSON; with ``only_if_changed`` an identical file is left alone
    (its timestamp too), so tasks depending on it stay up to date. True if written."""
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    return write_bytes_atomic(path, text.encode(), only_if_changed)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
