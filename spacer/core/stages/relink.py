"""Stage 4, per app: rerun the build's own link and post-link steps with the new script.

Everything happens in a scratch folder inside the output folder; the finished
debug image, bootable image and link map are renamed into place only when every
step succeeded, the bootable image last, so an interrupted run leaves nothing
that looks finished. The user's build folder is only read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from spacer.core.errors import ExternalFailure
from spacer.core.formats.slices import Slice, read_slice
from spacer.core.outputs.atomic import read_json
from spacer.core.programs import run_argv
from spacer.core.readers.recipe import default_script, substitute

SCRATCH_PREFIX = ".relink-"
def remove_stale_scratch(out_dir: Path) -> None:
    """Remove scratch folders an earlier relink left behind (killed outright, so it
    could not clean up). One app's relinks run one at a time, so any there is stale."""
    if out_dir.is_dir():
        for old in out_dir.glob(f"{SCRATCH_PREFIX}*"):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)


def relink(extract: dict, piece: Slice, script: Path, out_dir: Path,
           log: Callable[[str], None] | None = None) -> dict:
    """Link ``extract``'s app with ``script`` into ``out_dir``; return the new paths."""
    recipe = extract["recipe"]
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(out_dir)
    image = Path(recipe["image"])
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out_dir) as tmp:
        scratch = Path(tmp)
        mapping = {recipe["debug_image"]: str(scratch / Path(recipe["debug_image"]).name),
                   recipe["image"]: str(scratch / image.name),
                   default_script(recipe["scripts"], recipe["cmd_file"]): str(script)}
        for suffix in (".bootinfo", ".multiboot"):
            mapping[recipe["image"] + suffix] = str(scratch / (image.name + suffix))
        mapping.update(piece.objects)  # absolute (or canonical) object paths
        cwd = recipe["cwd"]
        link_map = scratch / (image.name + ".map")
        argv = substitute(tuple(recipe["argv"]), mapping, cwd)
        # Where every section went; right after the driver, wherever "-o OUT" is.
        argv.insert(1, f"-Wl,-Map,{link_map}")
        run_argv(argv, cwd, f"the relink of {extract['app']}", log)
        for step in recipe["postlink"]:
            run_argv(substitute(tuple(step["argv"]), mapping, cwd), cwd,
                     f"the post-link step {Path(step['cmd_file']).name} of {extract['app']}",
                     log)
        final_image = scratch / image.name
        if not final_image.is_file():
            raise ExternalFailure(f"post-link steps of {extract['app']} made no image",
                                  final_image)
        result = {
            "debug": str(out_dir / Path(recipe["debug_image"]).name),
            "image": str(out_dir / image.name),
            "map": str(out_dir / link_map.name),
        }
        os.replace(scratch / Path(recipe["debug_image"]).name, result["debug"])
        os.replace(link_map, result["map"])
        os.replace(final_image, result["image"])
    return result


def run_relink(extract_file: Path, slice_file: Path, script: Path, out_dir: Path,
               log: Callable[[str], None] | None = None) -> None:
    relink(read_json(extract_file), read_slice(slice_file), script, out_dir, log)


def linked_objects(slice_file: Path) -> dict:
    """The objects the slice links (another app's under ``--copy-objs``, spacer's
    rebuilt copies under ``--aslr``), as doit's ``calc_dep`` values: relink and verify
    read them."""
    return {"file_dep": sorted(set(read_slice(slice_file).objects.values()))}
