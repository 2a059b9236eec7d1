"""Stage 4, per app: rerun the build's own link and post-link steps with the new script.

Everything happens in a scratch folder inside the output folder; the finished
debug image, bootable image and link map are renamed into place only when every
step succeeded, the bootable image last, so an interrupted run leaves nothing
that looks finished. The user's build folder is only read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from spacer.core.errors import ExternalFailure, ToolMissing, first_error_line
from spacer.core.recipe import default_script, substitute
from spacer.core.slices import Slice

SCRATCH_PREFIX = ".relink-"
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

