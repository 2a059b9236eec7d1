"""Build the demo fleet into Unikraft's make layout, recording every command.

Per app ``WORKSPACE/apps/<app>/build/`` holds, as a Unikraft 0.17 kvm x86_64
build does: ``lib<X>/<src>.o``, ``lib<X>.ld.o`` (partial link), ``lib<X>.o``
(objcopy of it), ``app<name>/…`` and ``app<name>.o``, the platform script
``libkvmplat/link64.lds``, the debug image ``<app>_qemu-x86_64.dbg``, the
stripped image ``<app>_qemu-x86_64`` rewritten as ELF32 for multiboot, and a
``.cmd`` file next to each output holding its command line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import ExternalFailure, ToolMissing, first_error_line
from spacer.core.outputs.atomic import write_bytes_atomic
from spacer.core.outputs.paths import debug_image
from spacer.demo import LDS_DIR, SCRIPTS_DIR, SRC_DIR
from spacer.demo.apps import (
    DemoApp,
    function_source,
    generated_source,
    is_function,
    is_generated,
)

PLAT = "kvmplat"
IMAGE_SUFFIX = "_qemu-x86_64"
# -O2 and no -ffunction-sections like Unikraft; .eh_frame is kept on purpose.
# No -g: debug info would carry paths. The loop-pattern option stops gcc from
# turning nolibc's memset/memcpy loops into calls to themselves.
CFLAGS = (
    "-O2", "-std=gnu11", "-Wall", "-ffreestanding", "-fno-pic", "-fno-pie",
    "-mno-red-zone", "-fno-stack-protector", "-fcf-protection=none",
    "-fno-tree-loop-distribute-patterns", "-nostdinc", "-nostdlib",
)


@dataclass(frozen=True)
class BuildStep:
    name: str
    argv: tuple[str, ...]
    inputs: tuple[Path, ...]
    outputs: tuple[Path, ...]  # empty for a step that rewrites its input in place
    cmd_file: Path


def image_path(workspace: Path, app: DemoApp) -> Path:
    """The bootable image of ``app`` (``.dbg`` next to it is the ELF64 one)."""
    return app_build_dir(workspace, app) / f"{app.name}{IMAGE_SUFFIX}"


def app_build_dir(workspace: Path, app: DemoApp) -> Path:
    return Path(workspace).resolve() / "apps" / app.name / "build"


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".c", ".S"))


def _headers(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.h"))


def app_source_dir(workspace: Path, app: DemoApp, src_root: Path = SRC_DIR) -> Path:
    """Where the app's C files are; generated and function apps get theirs written here."""
    shipped = src_root / "apps" / app.name
    if shipped.is_dir():
        return shipped
    if is_generated(app):
        text = generated_source(app)
    elif is_function(app):
        text = function_source(app)
    else:
        raise FileNotFoundError(f"{shipped}: no sources for demo app {app.name}")
    folder = Path(workspace).resolve() / "apps" / app.name / "src"
    write_bytes_atomic(folder / "main.c", text.encode(), only_if_changed=True)
    return folder


def _library_steps(prefix: str, lib_dir: Path, out_name: str, build: Path,
                   cflags: tuple[str, ...], headers: tuple[Path, ...]) -> list[BuildStep]:
    """Compile one library's sources, partially link them, objcopy the result."""
    steps, objs = [], []
    for src in _sources(lib_dir):
        obj = build / out_name / f"{src.stem}.o"
        # The headers it read go to a dependency list, as Unikraft's -Wp,-MD, does.
        listing = obj.with_name(f".{obj.name}.d")
        argv = ("gcc", *cflags, f"-ffile-prefix-map={lib_dir}={out_name}",
                f"-Wp,-MD,{listing}", "-c", str(src), "-o", str(obj))
        steps.append(BuildStep(f"{prefix}/{out_name}/{obj.name}", argv, (src, *headers),
                               (obj, listing), obj.with_name(obj.name + ".cmd")))
        objs.append(obj)
    ld_o = build / f"{out_name}.ld.o"
    steps.append(BuildStep(f"{prefix}/{ld_o.name}",
                           ("ld", "-r", "-m", "elf_x86_64", *map(str, objs), "-o", str(ld_o)),
                           tuple(objs), (ld_o,), build / f"{ld_o.name}.cmd"))
    lib_o = build / f"{out_name}.o"
    steps.append(BuildStep(f"{prefix}/{lib_o.name}", ("objcopy", str(ld_o), str(lib_o)),
                           (ld_o,), (lib_o,), build / f"{lib_o.name}.cmd"))
    return steps


def app_steps(workspace: Path, app: DemoApp, src_root: Path = SRC_DIR) -> list[BuildStep]:
    """Every step that builds ``app``, in an order that respects dependencies."""
    src_root = Path(src_root).resolve()
    build = app_build_dir(workspace, app)
    lib_dirs = [src_root / f"lib{lib}" for lib in app.libs]
    for folder in lib_dirs:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: unknown demo library")
    app_dir = app_source_dir(workspace, app, src_root)
    includes = tuple(f"-I{folder}" for folder in lib_dirs)
    headers = tuple(h for folder in [*lib_dirs, app_dir] for h in _headers(folder))

    lds_src, lds = LDS_DIR / "link64.lds", build / f"lib{PLAT}" / "link64.lds"
    steps = [BuildStep(f"{app.name}/lib{PLAT}/link64.lds", ("cp", str(lds_src), str(lds)),
                       (lds_src,), (lds,), lds.with_name("link64.lds.cmd"))]
    objects = []
    for lib, folder in zip(app.libs, lib_dirs, strict=True):
        cflags = (*CFLAGS, *app.defines(lib), *includes)
        steps += _library_steps(app.name, folder, f"lib{lib}", build, cflags, headers)
        objects.append(build / f"lib{lib}.o")
    steps += _library_steps(app.name, app_dir, f"app{app.name}", build,
                            (*CFLAGS, *includes, f"-I{app_dir}"), headers)
    # Unikraft links the platform library first and the app right after it, then the
    # other libraries: every library after the app moves with the app's size.
    objects.insert(1, build / f"app{app.name}.o")

    image = image_path(workspace, app)
    dbg = debug_image(image)
    link = ("gcc", "-Wl,-m,elf_x86_64", "-Wl,--entry=_multiboot_entry", *map(str, objects),
            "-nostdlib", "-Wl,--build-id=none", "-nostdinc", "-no-pie",
            f"-Wl,-dT,{lds}", "-o", str(dbg))
    script = SCRIPTS_DIR / "multiboot.py"
    steps += [
        BuildStep(f"{app.name}/{dbg.name}", link, (*objects, lds), (dbg,),
                  dbg.with_name(dbg.name + ".cmd")),
        BuildStep(f"{app.name}/{image.name}", ("strip", "-s", str(dbg), "-o", str(image)),
                  (dbg,), (image,), image.with_name(image.name + ".cmd")),
        BuildStep(f"{app.name}/{image.name}.multiboot", (sys.executable, str(script), str(image)),
                  (image, script), (), image.with_name(image.name + ".multiboot.cmd")),
    ]
    return steps


def build_steps(workspace: Path, apps: list[DemoApp], src_root: Path = SRC_DIR) -> list[BuildStep]:
    """All steps of all apps; each app's tree is independent, as in Unikraft."""
    return [step for app in apps for step in app_steps(workspace, app, src_root)]


def run_step(step: BuildStep) -> None:
    """Run one step (argv, no shell) and record it in its ``.cmd`` file."""
    for out in step.outputs:
        out.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(step.argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as err:
        raise ToolMissing(f"{step.argv[0]} is not installed", hint="install gcc and binutils") \
            from err
    if proc.returncode != 0:
        what = step.outputs[0] if step.outputs else step.cmd_file
        message = first_error_line(proc.stderr + proc.stdout, f"exit status {proc.returncode}")
        raise ExternalFailure(f"{step.argv[0]} failed: {message}", path=what)
    write_bytes_atomic(step.cmd_file, (shlex.join(step.argv) + "\n").encode())


def build_fleet(workspace: Path, apps: list[DemoApp], jobs: int | None = None,
                src_root: Path = SRC_DIR) -> Path:
    """Build ``apps`` without doit: apps in parallel, each app's steps in order."""

    def build_one(app: DemoApp) -> None:
        for step in app_steps(workspace, app, src_root):
            run_step(step)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        list(pool.map(build_one, apps))
    return Path(workspace)
