"""``spacer bench runtime``: what the indirection tables cost at run time.

Builds a call-heavy app (a loop over nolibc's ``strlen``/``memcpy``/``strcmp`` and
ukhash's ``uk_sha256_update``, timed with the TSC inside the guest) next to
``hashsum``, which shares nolibc and ukhash with it, and aligns the pair with
``--aslr 0``, ``1`` and ``2``, boots every image several times and prints the
median guest cycles and boot-to-exit times, as ratios to the original image,
all measured in one run. Under ``--aslr 1`` and ``2`` the app's own calls are
direct (its code is private) and ukhash reaches nolibc's ``memcpy`` through its
table: the loop pays the indirection where a fleet pays it, between shared
libraries. QEMU runs TCG here, which emulates every instruction:
an extra indirect call costs relatively more than on hardware, so the figures
are an upper bound on the cost under KVM.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spacer.bench_align import in_scratch
from spacer.core.errors import ExternalFailure
from spacer.core.fileio import read_json

MODES = (0, 1, 2)
_CYCLES = re.compile(r"cycles=(\d+)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "runtime", help="time a call-heavy app, original vs --aslr 0, 1, 2",
        description="Build a call-heavy demo app, align it with each --aslr mode, boot "
                    "every image RUNS times and print guest cycles (TSC) and boot-to-exit "
                    "times as ratios to the original.")
    p.add_argument("--runs", type=int, default=5, metavar="N",
                   help="boots per image (default 5; the median counts)")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep it (default: a temporary folder)")
    p.set_defaults(func=run)
    return p


def _boot_once(image: Path) -> tuple[int, float, str]:
    from spacer.core.qemu import boot

    start = time.perf_counter()
    result = boot(image, timeout=120)
    seconds = time.perf_counter() - start
    found = _CYCLES.search(result.output)
    if result.timed_out or not found:
        raise ExternalFailure("the benchmark app printed no cycle count", image)
    return int(found.group(1)), seconds, _CYCLES.sub("cycles=", result.output)


def bench(root: Path, runs: int) -> list[dict]:
    """Every mode's figures, measured in this one run; the images take turns, so a
    drift of the host's speed reaches all of them alike."""
    from spacer.demo.apps import BENCH_APPS, DEMO_APPS
    from spacer.demo.build import build_fleet, image_path
    from spacer.tasks.config import Settings
    from spacer.tasks.loader import run_tasks

    app = BENCH_APPS[0]
    partner = next(a for a in DEMO_APPS if a.name == "hashsum")
    ws = root / "ws"
    build_fleet(ws, [app, partner])
    images = {"original": image_path(ws, app)}
    for mode in MODES:
        out = root / f"aslr{mode}"
        settings = Settings(workspace=ws, out=out, demo=False, plan={"aslr": mode})
        code, _, failures = run_tasks(settings, ["align"])
        if code != 0:
            raise ExternalFailure(f"align --aslr {mode} failed: "
                                  f"{failures[0].line if failures else 'see above'}")
        manifest = read_json(out / "manifest.json")["apps"][app.name]
        images[f"--aslr {mode}"] = Path(manifest["aligned"]["image"])
    samples: dict[str, list[tuple[int, float, str]]] = {name: [] for name in images}
    for _ in range(runs):
        for name, image in images.items():
            samples[name].append(_boot_once(image))
    rows = []
    for name, got in samples.items():
        if {output for _, _, output in got} != {samples["original"][0][2]}:
            raise ExternalFailure(f"{name} printed something else than the original",
                                  images[name])
        rows.append({"mode": name, "cycles": statistics.median(c for c, _, _ in got),
                     "seconds": statistics.median(s for _, s, _ in got)})
    return rows


def run(ns: argparse.Namespace) -> int:
    console = Console()
    rows = in_scratch(ns.keep, "runtime", lambda root: bench(root, ns.runs))
    base = rows[0]
    table = Table(title=f"Call loop (2,000,000 x strlen, memcpy, strcmp, sha256 update), median of {ns.runs} "
                        "boots; QEMU TCG, an upper bound on hardware cost")
    for column in ("image", "guest cycles", "ratio", "boot-to-exit s", "ratio"):
        table.add_column(column, justify="left" if column == "image" else "right",
                         no_wrap=True)
    for row in rows:
        table.add_row(row["mode"], f"{row['cycles']:,.0f}",
                      f"{row['cycles'] / base['cycles']:.3f}", f"{row['seconds']:.2f}",
                      f"{row['seconds'] / base['seconds']:.3f}")
    console.print(table)
    return 0
