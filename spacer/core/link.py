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


def run_argv(argv: list[str], cwd: str, what: str, log: Callable[[str], None] | None) -> None:
    """Run one command; :class:`ExternalFailure` with its first error line if it fails."""
    if log:
        log(" ".join(argv))
    if shutil.which(argv[0]) is None and not Path(argv[0]).is_file():
        raise ToolMissing(f"{argv[0]} not found, needed to {what}",
                          hint="install the toolchain the unikernel was built with")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ExternalFailure(f"{what} failed: {first_error_line(proc.stderr + proc.stdout)}")


def relink(extract: dict, piece: dict, script: Path, out_dir: Path,
           log: Callable[[str], None] | None = None) -> dict:
    """Link ``extract``'s app with ``script`` into ``out_dir``; return the new paths."""
    recipe = extract["recipe"]
    out_dir.mkdir(parents=True, exist_ok=True)
    image = Path(recipe["image"])
    with tempfile.TemporaryDirectory(prefix=".relink-", dir=out_dir) as tmp:
        scratch = Path(tmp)
        mapping = {recipe["debug_image"]: str(scratch / Path(recipe["debug_image"]).name),
                   recipe["image"]: str(scratch / image.name),
                   default_script(recipe["scripts"], recipe["cmd_file"]): str(script)}
        for suffix in (".bootinfo", ".multiboot"):
            mapping[recipe["image"] + suffix] = str(scratch / (image.name + suffix))
        mapping.update(piece["objects"])  # absolute (or canonical) object paths
        cwd = recipe["cwd"]
        link_map = scratch / (image.name + ".map")
        argv = substitute(tuple(recipe["argv"]), mapping, cwd)
        argv.insert(-2, f"-Wl,-Map,{link_map}")  # before "-o OUT": where every section went
        run_argv(argv, cwd, f"relinking {extract['app']}", log)
        for step in recipe["postlink"]:
            run_argv(substitute(tuple(step["argv"]), mapping, cwd), cwd,
                     f"post-link step of {extract['app']} ({Path(step['cmd_file']).name})", log)
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

