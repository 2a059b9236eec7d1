"""Stage ``lds``, per app: the platform linker script rewritten for the app's slice."""

from __future__ import annotations

from pathlib import Path

from spacer.core.formats.facts import read_facts
from spacer.core.formats.slices import read_slice
from spacer.core.outputs.atomic import write_text_atomic
from spacer.core.rewrite.ldscript import rewrite_script


def run_lds(extract_file: Path, slice_file: Path, out: Path) -> None:
    default = read_facts(extract_file).recipe.default_script
    text = Path(default).read_text(errors="replace")
    write_text_atomic(out, rewrite_script(text, default, read_slice(slice_file)))
