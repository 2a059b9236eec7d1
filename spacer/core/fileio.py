"""Writing outputs so that an interrupted run never leaves a file that looks finished."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, data: object, only_if_changed: bool = False) -> bool:
    """Write ``data`` as JSON; with ``only_if_changed`` an identical file is left alone
    (its timestamp too), so tasks depending on it stay up to date. True if written."""
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    path = Path(path)
    if only_if_changed and path.is_file() and path.read_text() == text:
        return False
    write_text_atomic(path, text)
    return True


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
