"""What every typed stage file shares: its format version, checked before its shape,
and one line for a file this spacer cannot read (which file, what is wrong, what to do)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from spacer.core.errors import BadInput
from spacer.core.outputs.atomic import read_json

T = TypeVar("T")


def check_version(data: Any, name: str, version: object, where: str, hint: str,
                  key: str = "version") -> None:
    """:class:`BadInput` unless ``data`` is a JSON object of format ``version``."""
    if not isinstance(data, dict):
        raise BadInput(f"not {name} of this spacer (a JSON {type(data).__name__})",
                       where or None, hint)
    found = data.get(key)
    if found != version:
        raise BadInput(f"{name} of format {key} {found}, this spacer reads {version}",
                       where or None, hint)


@contextmanager
def shape(name: str, where: str, hint: str) -> Iterator[None]:
    """A field missing or of the wrong type, as one line naming the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadInput(f"not {name} of this spacer ({type(exc).__name__}: {exc})",
                       where or None, hint) from None


def read_format(from_json: Callable[[Any, str], T], path: Path, hint: str) -> T:
    """The typed content of the stage file at ``path``; a file that is not JSON is
    refused with one line (a missing one raises FileNotFoundError)."""
    try:
        data = read_json(path)
    except ValueError as exc:
        raise BadInput(f"not JSON ({exc})", path, hint) from None
    return from_json(data, str(path))
