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
from spacer.core.formats.facts import AppFacts, read_facts
from spacer.core.formats.slices import Slice, read_slice
from spacer.core.outputs.paths import debug_image, link_map
from spacer.core.programs import run_argv
from spacer.core.readers.recipe import substitute

SCRATCH_PREFIX = ".relink-"
def remove_stale_scratch(out_dir: Path) -> None:
    """Remove scratch folders an earlier relink left behind (killed outright, so it
    could not clean up). One app's relinks run one at a time, so any there is stale."""
    if out_dir.is_dir():
        for old in out_dir.glob(f"{SCRATCH_PREFIX}*"):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)


def relink(facts: AppFacts, piece: Slice, script: Path, out_dir: Path,
           log: Callable[[str], None] | None = None) -> dict:
    """Link ``facts``' app with ``script`` into ``out_dir``; return the new paths."""
    recipe = facts.recipe
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(out_dir)
    image = Path(recipe.image)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=out_dir) as tmp:
        scratch = Path(tmp)
        built = scratch / image.name
        mapping = {recipe.debug_image: str(debug_image(built)), recipe.image: str(built),
                   recipe.default_script: str(script)}
        for suffix in (".bootinfo", ".multiboot"):
            mapping[recipe.image + suffix] = str(scratch / (image.name + suffix))
        mapping.update(piece.objects)  # absolute (or canonical) object paths
        cwd = recipe.cwd
        argv = substitute(recipe.argv, mapping, cwd)
        # Where every section went; right after the driver, wherever "-o OUT" is.
        argv.insert(1, f"-Wl,-Map,{link_map(built)}")
        run_argv(argv, cwd, f"the relink of {facts.app}", log)
        for step in recipe.postlink:
            run_argv(substitute(step.argv, mapping, cwd), cwd,
                     f"the post-link step {Path(step.cmd_file).name} of {facts.app}", log)
        if not built.is_file():
            raise ExternalFailure(f"post-link steps of {facts.app} made no image", built)
        final = out_dir / image.name
        result = {"debug": str(debug_image(final)), "image": str(final),
                  "map": str(link_map(final))}
        os.replace(debug_image(built), result["debug"])
        os.replace(link_map(built), result["map"])
        os.replace(built, result["image"])
    return result


def run_relink(facts_file: Path, slice_file: Path, script: Path, out_dir: Path,
               log: Callable[[str], None] | None = None) -> None:
    relink(read_facts(facts_file), read_slice(slice_file), script, out_dir, log)


def linked_objects(slice_file: Path) -> dict:
    """The objects the slice links (another app's under ``--copy-objs``, spacer's
    rebuilt copies under ``--aslr``), as doit's ``calc_dep`` values: relink and verify
    read them."""
    return {"file_dep": sorted(set(read_slice(slice_file).objects.values()))}
