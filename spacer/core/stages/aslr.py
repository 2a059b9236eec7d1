"""Stage ``aslr``, per app (``--aslr 2``): this image's placement, as a file."""

from __future__ import annotations

from pathlib import Path

from spacer.core.formats.slices import read_slice
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.planner.aslr import place_app


def run_aslr(slice_file: Path, seed: int, out: Path) -> None:
    """This image's placement of its shared libraries (``--aslr 2``)."""
    write_json_atomic(out, place_app(read_slice(slice_file), seed).to_json(),
                      only_if_changed=True)
