"""Find the unikernels of a workspace and the facts of their builds.

Layouts understood (DESIGN.md section 1):
- Unikraft make: ``WORKSPACE/apps/<app>/build/`` (also ``WORKSPACE/<app>/build/``);
- kraftkit: ``WORKSPACE/<app>/.unikraft/build/``.
A build folder holds a unikernel when it has a recorded final link,
``<name>_qemu-x86_64.dbg.cmd`` (Unikraft 0.17) or ``<name>_kvm-x86_64.dbg.cmd``
(older releases).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import BadInput

# Preferred first: QEMU images over Firecracker ones when a build has both.
_LINK_PATTERNS = ("*_qemu-x86_64.dbg.cmd", "*_kvm-x86_64.dbg.cmd", "*_kvmq-x86_64.dbg.cmd",
                  "*-x86_64.dbg.cmd")


@dataclass(frozen=True)
class AppBuild:
    name: str
    app_dir: str
    build_dir: str
    link_cmd: str  # the recorded final link


def _link_cmd(build: Path) -> Path | None:
    for pattern in _LINK_PATTERNS:
        found = sorted(build.glob(pattern))
        if found:
            return found[0]
    return None


def _candidates(ws: Path) -> list[tuple[str, Path, Path]]:
    found = []
    for parent in (ws / "apps", ws):
        if not parent.is_dir():
            continue
        for app in sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for build in (app / "build", app / ".unikraft" / "build"):
                if build.is_dir():
                    found.append((app.name, app, build))
    return found


def check_workspace(ws: Path) -> None:
    """:class:`BadInput` unless ``ws`` is a folder: missing, or a file."""
    if ws.exists() and not ws.is_dir():
        raise BadInput("the workspace is a file, not a folder", ws,
                       "give -w the folder that holds the builds")
    if not ws.is_dir():
        raise BadInput("workspace folder does not exist", ws)


def find_apps(workspace: Path) -> list[AppBuild]:
    """Every unikernel build in ``workspace``, sorted by name; names are unique."""
    ws = Path(workspace)
    check_workspace(ws)
    apps: dict[str, AppBuild] = {}
    for name, app_dir, build in _candidates(ws):
        cmd = _link_cmd(build)
        if cmd is None or name in apps:
            continue
        apps[name] = AppBuild(name, str(app_dir.resolve()), str(build.resolve()),
                              str(cmd.resolve()))
    if not apps:
        raise BadInput("no unikernel builds found", ws,
                       "expected apps/<app>/build/<name>_qemu-x86_64.dbg.cmd from a Unikraft build")
    return [apps[k] for k in sorted(apps)]


def select_apps(apps: list[AppBuild], wanted: tuple[str, ...]) -> list[AppBuild]:
    """Keep the apps named in ``wanted`` (all when empty); at least two are needed."""
    if wanted:
        known = {a.name for a in apps}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise BadInput(f"unknown app(s) {', '.join(missing)}; found {', '.join(sorted(known))}")
        apps = [a for a in apps if a.name in wanted]
    if len(apps) < 2:
        raise BadInput(f"need at least two unikernels to share memory, got {len(apps)}",
                       hint="build more apps or name them with -u")
    return apps


def check_output_folder(out: Path, apps: list[AppBuild]) -> None:
    """Refuse an output folder that is a file, or that is (or lies inside) a build
    folder: spacer only reads build folders (DESIGN.md section 1)."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise BadInput("output folder is a file", out,
                       "give -o a folder; it is created if missing")
    for app in apps:
        build = Path(app.build_dir).resolve()
        if out == build or out.is_relative_to(build):
            raise BadInput(f"output folder is inside the build folder of {app.name}", out,
                           "spacer only reads build folders; choose another -o")
